% rebase('layout', title=title)
<h1>Bots <small data-figure="bots-count">{{len(rows)}}</small></h1>
% if not rows:
<p class="empty">No bots yet: add one below (or with <code>igctl bot add NAME</code>); its token is shown once.</p>
% else:
<div class="scroll"><table id="bots-table">
<thead><tr><th>bot</th><th>online</th><th>slots</th><th>bound</th><th>claimed</th><th>done today</th><th>failed today</th><th>last seen</th><th>version</th><th></th></tr></thead>
<tbody>
% for b in rows:
<tr data-bot-id="{{b['id']}}" class="{{'dim' if b['revoked'] else ''}}">
  <td><a href="/bots/{{b['id']}}">{{b["name"]}}</a>{{" (revoked)" if b["revoked"] else ""}}</td><td>{{"yes" if b["online"] else "no"}}</td>
  <td>{{"no limit" if b["slots"] is None else b["slots"]}}</td><td data-figure="bot-{{b['id']}}-bound_accounts">{{b["bound_accounts"]}}</td>
  <td>{{b["claimed_tasks"]}}</td><td data-figure="bot-{{b['id']}}-done_today">{{b["done_today"]}}</td><td data-figure="bot-{{b['id']}}-failed_today">{{b["failed_today"]}}</td>
  <td>{{show(b["last_seen_at"]) or "never"}}</td><td>{{b["app_version"] or ""}}</td>
  <td>
  % if not b["revoked"]:
  <a href="/bots/{{b['id']}}/console">console</a>
  % end
  </td>
</tr>
% end
</tbody></table></div>
% end
<section class="panel" id="add-bot">
  <h2>Add a bot</h2>
  <form method="post" action="/bots" class="inline">
    <input type="hidden" name="csrf_token" value="{{csrf}}">
    <label>Name <input name="name" required maxlength="64" placeholder="pc-07"></label>
    <label>Slots (app containers; empty: no limit) <input name="slots" inputmode="numeric" size="6" placeholder="4"></label>
    <button type="submit" id="add-bot-button">Add bot</button>
  </form>
  <p class="hint">The bot's API token is shown once, on the next page: only its hash is stored. A revoked bot keeps its name.</p>
</section>
