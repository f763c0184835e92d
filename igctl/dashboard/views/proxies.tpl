% rebase('layout', title=title)
% def label(p):
%   host = "[%s]" % p["host"] if ":" in p["host"] else p["host"]
%   return "%s://%s%s:%s" % (p["scheme"], (p["username"] + "@") if p["username"] else "", host, p["port"])
% end
% def result(p):
%   return "" if p["last_test_ok"] is None else ("ok" if p["last_test_ok"] else "failed")
% end
<h1>Proxies <small data-figure="proxies-count">{{len(rows)}}</small></h1>
% if tested:
<section class="panel" id="test-results">
  <h2>Last test of the proxies just tested</h2>
  <div class="scroll"><table id="test-results-table">
  <thead><tr><th>id</th><th>proxy</th><th>result</th><th>latency</th><th>exit IP</th><th>status</th><th>error</th><th>tested</th></tr></thead>
  <tbody>
  % for p in tested:
  <tr class="{{'' if p['last_test_ok'] else 'bad'}}" data-proxy-id="{{p['id']}}">
    <td>{{p["id"]}}</td><td>{{label(p)}}</td>
    <td data-figure="tested-{{p['id']}}-result">{{result(p)}}</td>
    <td data-figure="tested-{{p['id']}}-latency">{{"" if p["last_latency_ms"] is None else "%s ms" % p["last_latency_ms"]}}</td>
    <td data-figure="tested-{{p['id']}}-exit_ip">{{p["last_exit_ip"] or ""}}{{(" (was %s)" % p["previous_exit_ip"]) if p["exit_ip_changed_at"] else ""}}</td>
    <td>{{p["status"]}}</td><td class="msg">{{p["last_test_error"] or ""}}</td><td>{{show(p["last_tested_at"])}}</td>
  </tr>
  % end
  </tbody></table></div>
</section>
% end
% if not rows:
<p class="empty">No proxies yet: add one below, or import a file on the <a href="/import?kind=proxies">Import page</a>.</p>
% else:
<div class="scroll"><table id="proxies-table">
<thead><tr><th><input type="checkbox" data-select-all="proxy_ids" form="test-selected" aria-label="select all"></th><th>id</th><th>proxy</th><th>provider</th><th>location</th><th>used</th><th>model</th><th>last test</th><th>latency</th><th>exit IP</th><th>status</th><th>act</th></tr></thead>
<tbody>
% for p in rows:
<tr id="proxy-{{p['id']}}" data-proxy-id="{{p['id']}}">
  <td><input type="checkbox" name="proxy_ids" value="{{p['id']}}" form="test-selected" aria-label="select proxy {{p['id']}}"></td>
  <td>{{p["id"]}}</td><td>{{label(p)}}</td><td>{{p["provider"] or ""}}</td><td>{{p["location"] or ""}}</td>
  <td><span data-figure="proxy-{{p['id']}}-account_count">{{p["account_count"]}}</span>/{{p["max_accounts"]}}</td><td>{{p["model"] or ""}}</td>
  <td class="{{'bad' if p['last_test_ok'] is False else ''}}" title="{{p['last_test_error'] or ''}}">{{result(p)}} {{show(p["last_tested_at"])}}</td>
  <td>{{"" if p["last_latency_ms"] is None else "%s ms" % p["last_latency_ms"]}}</td><td>{{p["last_exit_ip"] or ""}}</td>
  <td>
    <select name="status" form="status-{{p['id']}}" aria-label="status of proxy {{p['id']}}">
    % for s in statuses:
      <option value="{{s}}" {{"selected" if s == p["status"] else ""}}>{{s}}</option>
    % end
    </select>
    <button type="submit" form="status-{{p['id']}}">Set</button>
  </td>
  <td class="acts">
    <button type="submit" form="test-{{p['id']}}" id="test-button-{{p['id']}}">Test</button>
    % if p["account_count"]:
    <a href="/proxies/{{p['id']}}/replace" id="replace-link-{{p['id']}}">Replace…</a>
    % else:
    <button type="submit" form="remove-{{p['id']}}" class="danger" id="remove-button-{{p['id']}}">Remove</button>
    % end
  </td>
</tr>
% end
</tbody></table></div>
<form method="post" action="/proxies/test" id="test-selected" class="inline">
  <input type="hidden" name="csrf_token" value="{{csrf}}">
  <button type="submit" id="test-selected-button">Test selected</button>
  <span class="hint">At most {{test_limit}} proxies a click, tested at once: the page waits for their answers (at most about twice <code>proxies.test_timeout_seconds</code>). For every proxy: <code>igctl proxy test --all</code>.</span>
</form>
% for p in rows:
<form method="post" action="/proxies/{{p['id']}}/status" id="status-{{p['id']}}" class="hidden-form"><input type="hidden" name="csrf_token" value="{{csrf}}"></form>
<form method="post" action="/proxies/test" id="test-{{p['id']}}" class="hidden-form"><input type="hidden" name="csrf_token" value="{{csrf}}"><input type="hidden" name="proxy_ids" value="{{p['id']}}"></form>
% if not p["account_count"]:
<form method="post" action="/proxies/{{p['id']}}/remove" id="remove-{{p['id']}}" class="hidden-form"><input type="hidden" name="csrf_token" value="{{csrf}}"></form>
% end
% end
<p class="hint">A test fetches <code>proxies.check_url</code> through the proxy (docs/proxy-operations.md); failed tests in a row set it to error. Setting a status also acknowledges an exit IP change. Only a proxy without accounts can be removed: move them first (Replace…).</p>
% end
<div class="cols">
<section class="panel" id="add-proxy">
  <h2>Add a proxy</h2>
  <form method="post" action="/proxies/add" class="inline" id="proxy-add-form" autocomplete="off">
    <input type="hidden" name="csrf_token" value="{{csrf}}">
    <label>Proxy <input name="spec" required size="34" autocomplete="off" placeholder="user:pass@host:port"></label>
    <label>Provider <input name="provider" size="10"></label>
    <label>Location <input name="location" size="5" placeholder="DE"></label>
    <label>Monthly cost <input name="cost" size="6" inputmode="decimal"></label>
    <label>Max accounts <input name="max_accounts" size="3" inputmode="numeric" placeholder="{{default_max}}"></label>
    <button type="submit" id="proxy-add">Add</button>
  </form>
  <p class="hint"><code>host:port</code>, <code>host:port:user:pass</code>, <code>user:pass@host:port</code> or <code>scheme://user:pass@host:port</code> (http, https, socks5, socks5h; IPv6 in brackets). The password is stored encrypted. Many at once: a file on the <a href="/import?kind=proxies" id="import-link">Import page</a>.</p>
</section>
<section class="panel">
% include('_proxy_assign', unplaced=unplaced, back_to="/proxies")
</section>
</div>
