% rebase('layout', title=title)
<section class="panel" id="new-model">
  <h1>New model</h1>
  <form method="post" action="/models" id="create-model-form" class="strategy">
    <input type="hidden" name="csrf_token" value="{{csrf}}">
    <label>Name (kept as given; its slug names the files) <input name="name" required maxlength="60" placeholder="Alice Summer" id="model-name"></label>
    <label>Display name (how it is shown; empty: the name) <input name="display_name" maxlength="100" placeholder="Alice" id="model-display-name"></label>
    <button type="submit" id="create-model-button">Create model</button>
  </form>
  <p class="hint">Creates <code>models/&lt;slug&gt;.yaml</code> (the strategy, every key at its default until you edit it)
  and <code>content/&lt;slug&gt;/</code> with its image folders and text pools, as <code>igctl model create NAME --display-name TEXT</code>.
  The strategy editor opens next.</p>
</section>
