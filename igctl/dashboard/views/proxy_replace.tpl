% rebase('layout', title=title)
% def label(p):
%   host = "[%s]" % p["host"] if ":" in p["host"] else p["host"]
%   return "%s://%s%s:%s" % (p["scheme"], (p["username"] + "@") if p["username"] else "", host, p["port"])
% end
<h1>Replace proxy {{old["id"]}} <small>{{label(old)}}</small></h1>
<section class="panel">
  <p>Status <b>{{old["status"]}}</b>{{(", location " + old["location"]) if old["location"] else ""}}{{(", serves model " + old["model"]) if old["model"] else ""}}; last test: {{"never" if old["last_test_ok"] is None else ("ok" if old["last_test_ok"] else "failed")}} {{show(old["last_tested_at"])}} <span class="msg">{{old["last_test_error"] or ""}}</span></p>
  <h2>Accounts that move <small data-figure="replace-count">{{len(accounts)}}</small></h2>
  % if not accounts:
  <p class="empty">No accounts use this proxy: nothing to move. It can be removed on the Proxies page.</p>
  % else:
  <div class="scroll"><table id="replace-accounts"><thead><tr><th>account</th><th>state</th><th>model</th><th>bot</th></tr></thead><tbody>
  % for a in accounts:
  <tr><td><a href="/accounts/{{q(a['username'])}}">{{a["username"]}}</a></td><td>{{a["lifecycle_state"]}}</td><td>{{a["model"] or ""}}</td><td>{{a["bot"] or ""}}{{(" slot %s" % a["slot"]) if a["slot"] else ""}}</td></tr>
  % end
  </tbody></table></div>
  % if not candidates:
  <p class="warn" id="no-candidates">No active proxy has room for all {{len(accounts)}} accounts: add one on the Proxies page, or spread them over several with <code>igctl proxy rebalance --from {{old["id"]}}</code>.</p>
  % end
  <form method="post" action="/proxies/{{old['id']}}/replace" class="inline" id="replace-form">
    <input type="hidden" name="csrf_token" value="{{csrf}}">
    <label>Move them all to <select name="new_proxy_id" required>
      <option value="">choose a proxy…</option>
      % for p in candidates:
      <option value="{{p['id']}}">{{p["id"]}} · {{label(p)}} · {{p["location"] or "no location"}} · {{p["account_count"]}}/{{p["max_accounts"]}} used{{(" · model " + p["model"]) if p["model"] else ""}}</option>
      % end
    </select></label>
    <button type="submit" id="replace-submit">Replace</button>
  </form>
  % end
  <p class="hint">The same move as <code>igctl proxy replace {{old["id"]}} NEW</code>: all or nothing; each account keeps its state, model, bot and slot; the new proxy must be active, have room for all of them and serve no other model. The list offers the active proxies with room for all of them. A task a bot holds keeps the proxy it was handed; the next one carries the new proxy. Proxy {{old["id"]}} keeps its status: remove it afterwards, or leave it.</p>
  <p><a href="/proxies">Back to the proxies</a></p>
</section>
