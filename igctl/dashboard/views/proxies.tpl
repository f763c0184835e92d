% rebase('layout', title=title)
<h1>Proxies <small data-figure="proxies-count">{{len(rows)}}</small></h1>
% if not rows:
<p class="empty">No proxies yet: import a file on the Import page or use <code>igctl proxy add</code>.</p>
% else:
<div class="scroll"><table id="proxies-table">
<thead><tr><th>id</th><th>host</th><th>provider</th><th>location</th><th>used</th><th>model</th><th>last test</th><th>status</th></tr></thead>
<tbody>
% for p in rows:
<tr id="proxy-{{p['id']}}" data-proxy-id="{{p['id']}}">
  <td>{{p["id"]}}</td><td>{{p["scheme"]}}://{{p["host"]}}:{{p["port"]}}</td><td>{{p["provider"] or ""}}</td><td>{{p["location"] or ""}}</td>
  <td data-figure="proxy-{{p['id']}}-account_count">{{p["account_count"]}}</td><td>{{p["model"] or ""}}</td>
  <td>{{"" if p["last_test_ok"] is None else ("ok" if p["last_test_ok"] else "failed")}} {{show(p["last_tested_at"])}}</td>
  <td>
    <select name="status" form="status-{{p['id']}}" aria-label="status of proxy {{p['id']}}">
    % for s in statuses:
      <option value="{{s}}" {{"selected" if s == p["status"] else ""}}>{{s}}</option>
    % end
    </select>
    <button type="submit" form="status-{{p['id']}}">Set</button>
  </td>
</tr>
% end
</tbody></table></div>
% for p in rows:
<form method="post" action="/proxies/{{p['id']}}/status" id="status-{{p['id']}}" class="hidden-form"><input type="hidden" name="csrf_token" value="{{csrf}}"></form>
% end
% end
<section class="panel">
% include('_proxy_assign', unplaced=unplaced, back_to="/proxies")
</section>
