% rebase('layout', title=title)
<section class="panel error-page" id="error">
  <h1>{{title}}</h1>
  <p class="message">{{message}}</p>
  <p><a href="{{back}}">Back</a></p>
</section>
