% # The needs-attention items with retry and resolve, single and bulk (review page and view E).
% reviewable = [i for i in items if i["kind"] == "human_review" and i["username"]]
% if not items:
<p class="empty">Nothing needs attention.</p>
% else:
<div class="scroll">
<table class="items" id="attention">
<thead><tr><th>{{!'<input type="checkbox" data-select-all="usernames" aria-label="select all" form="bulk-review">' if reviewable else ''}}</th><th>kind</th><th>who</th><th>step</th><th>since</th><th>message</th><th>act</th></tr></thead>
<tbody>
% for i in items:
<tr data-kind="{{i['kind']}}" data-username="{{i['username'] or ''}}">
  <td>
  % if i["kind"] == "human_review" and i["username"]:
    <input type="checkbox" name="usernames" value="{{i['username']}}" form="bulk-review" aria-label="select {{i['username']}}">
  % end
  </td>
  <td>{{i["kind"]}}</td>
  <td>
  % if i["username"]:
    <a href="/accounts/{{q(i['username'])}}">{{i["username"]}}</a>
  % elif i["bot"]:
    bot {{i["bot"]}}
  % elif i["proxy_id"]:
    <a href="/proxies#proxy-{{i['proxy_id']}}">proxy {{i["proxy_id"]}}</a>
  % else:
    {{i["model"] or ""}}
  % end
  </td>
  <td>{{i["step_name"] or ""}}</td>
  <td>{{show(i["since"])}}</td>
  % if i["kind"] in ("content_missing", "content_short") and i.get("pool"):
  <td class="msg"><a href="/content/{{i['pool']}}">{{i["message"] or ""}}</a></td>
  % else:
  <td class="msg">{{i["message"] or ""}}</td>
  % end
  <td class="acts">
  % if i["kind"] == "human_review" and i["username"]:
    <button type="submit" form="retry-{{i['username']}}" class="retry">Retry</button>
    <input name="note" form="resolve-{{i['username']}}" placeholder="what was done" aria-label="note for {{i['username']}}" required>
    <button type="submit" form="resolve-{{i['username']}}">Resolve</button>
  % end
  </td>
</tr>
% end
</tbody>
</table>
</div>
% for i in reviewable:
<form method="post" action="/review/retry" id="retry-{{i['username']}}" class="hidden-form">
  <input type="hidden" name="csrf_token" value="{{csrf}}"><input type="hidden" name="next" value="{{back_to}}">
  <input type="hidden" name="usernames" value="{{i['username']}}">
</form>
<form method="post" action="/review/resolve" id="resolve-{{i['username']}}" class="hidden-form">
  <input type="hidden" name="csrf_token" value="{{csrf}}"><input type="hidden" name="next" value="{{back_to}}">
  <input type="hidden" name="usernames" value="{{i['username']}}">
</form>
% end
% if reviewable:
<form method="post" action="/review/retry" id="bulk-review" class="bulk">
  <input type="hidden" name="csrf_token" value="{{csrf}}"><input type="hidden" name="next" value="{{back_to}}">
  <span>Selected accounts in human review:</span>
  <button type="submit" formaction="/review/retry" id="bulk-retry">Retry selected</button>
  <input name="note" placeholder="what was done by hand" aria-label="note for the selected accounts">
  <button type="submit" formaction="/review/resolve" id="bulk-resolve">Resolve selected</button>
</form>
% end
% end
