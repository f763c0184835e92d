% rebase('layout', title=title)
<h1>Bots <small data-figure="bots-count">{{len(rows)}}</small></h1>
% if not rows:
<p class="empty">No bots yet: add one with <code>igctl bot add NAME</code> (it prints the bot's token once).</p>
% else:
<div class="scroll"><table id="bots-table">
<thead><tr><th>bot</th><th>online</th><th>slots</th><th>bound</th><th>claimed</th><th>done today</th><th>failed today</th><th>last seen</th><th>version</th></tr></thead>
<tbody>
% for b in rows:
<tr data-bot-id="{{b['id']}}" class="{{'dim' if b['revoked'] else ''}}">
  <td>{{b["name"]}}{{" (revoked)" if b["revoked"] else ""}}</td><td>{{"yes" if b["online"] else "no"}}</td>
  <td>{{"no limit" if b["slots"] is None else b["slots"]}}</td><td data-figure="bot-{{b['id']}}-bound_accounts">{{b["bound_accounts"]}}</td>
  <td>{{b["claimed_tasks"]}}</td><td data-figure="bot-{{b['id']}}-done_today">{{b["done_today"]}}</td><td data-figure="bot-{{b['id']}}-failed_today">{{b["failed_today"]}}</td>
  <td>{{show(b["last_seen_at"]) or "never"}}</td><td>{{b["app_version"] or ""}}</td>
</tr>
% end
</tbody></table></div>
% end
