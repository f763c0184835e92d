% rebase('layout', title=title)
<h1>Accounts <small data-figure="accounts-count">{{len(rows)}}</small></h1>
<form method="get" action="/accounts" class="filters">
  <label>State <select name="state">
    <option value="">every state</option>
    % for s in states:
    <option value="{{s}}" {{"selected" if s == state else ""}}>{{s}}</option>
    % end
  </select></label>
  <button type="submit">Show</button>
</form>
% if not rows:
<p class="empty">(no accounts)</p>
% else:
<div class="scroll"><table id="accounts-table">
<thead><tr><th>id</th><th>account</th><th>state</th><th>step</th><th>proxy</th><th>model</th><th>retries</th><th>last error</th></tr></thead>
<tbody>
% for r in rows:
<tr data-account-id="{{r['id']}}"><td>{{r["id"]}}</td><td><a href="/accounts/{{q(r['username'])}}">{{r["username"]}}</a></td><td>{{r["lifecycle_state"]}}</td><td>{{r["warmup_step"] or ""}}</td><td>{{r["proxy_id"] or ""}}</td><td>{{r["model"] or ""}}</td><td>{{r["retry_count"]}}</td><td class="msg">{{r["last_error_message"] or ""}}</td></tr>
% end
</tbody></table></div>
% end
