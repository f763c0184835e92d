<h2>Put an account on a proxy</h2>
<form method="post" action="/proxies/assign" class="inline" id="proxy-assign">
  <input type="hidden" name="csrf_token" value="{{csrf}}"><input type="hidden" name="next" value="{{back_to}}">
  <label>Account <input name="username" list="unplaced" required></label>
  <datalist id="unplaced">
  % for u in unplaced:
    <option value="{{u}}">
  % end
  </datalist>
  <label>Proxy id (empty: the one auto-assignment would pick) <input name="proxy_id" size="5" inputmode="numeric"></label>
  <button type="submit">Assign</button>
</form>
<form method="post" action="/proxies/auto-assign" class="inline">
  <input type="hidden" name="csrf_token" value="{{csrf}}"><input type="hidden" name="next" value="{{back_to}}">
  <button type="submit">Auto-assign every account without a proxy ({{len(unplaced)}})</button>
</form>
<p class="hint">A proxy holds at most 3 accounts and serves one model; the engine refuses anything else.</p>
