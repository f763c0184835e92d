% rebase('layout', title=title)
<section class="panel login">
  <h1>Log in to igctl</h1>
  % if note:
  <p class="note">{{note}}</p>
  % end
  % if error:
  <p class="bad" id="login-error">{{error}}</p>
  % end
  % if not has_password:
  <p class="bad">No dashboard password is set yet: run <code>igctl dashboard set-password</code> on the server.</p>
  % end
  <form method="post" action="/login">
    <input type="hidden" name="login_token" value="{{login_token}}">
    <input type="hidden" name="next" value="{{next}}">
    <label>Your name (for the event log, optional)<input name="operator" autocomplete="username" maxlength="40"></label>
    <label>Password<input type="password" name="password" autocomplete="current-password" required autofocus></label>
    <button type="submit">Log in</button>
  </form>
</section>
