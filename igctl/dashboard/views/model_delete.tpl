% rebase('layout', title=title)
<section class="panel error-page" id="delete-confirm">
  <h1>Delete model {{model["name"]}}?</h1>
  % if p is None:
  <p class="message">Model {{model["name"]}} was deleted {{show(model["archived_at"])}}.</p>
  <p><a href="/models/{{model['id']}}/accounts">Back to the model</a></p>
  % else:
  <p class="message">The model is archived: its history, strategy file and content stay, and its name stays taken.</p>
  <ul id="delete-effects">
    <li><strong data-figure="delete-cleanup">{{len(p["cleanup"])}}</strong> account(s) go to cleanup (reset_pfp, reset_bio, delete_posts), then back to ready{{": " + ", ".join(p["cleanup"]) if p["cleanup"] else ""}}.</li>
    <li><strong data-figure="delete-tasks-cancelled">{{p["tasks_cancelled"]}}</strong> queued or in-review task(s) of theirs are cancelled; <strong data-figure="delete-tasks-held">{{p["tasks_held"]}}</strong> task(s) held by a bot run to their end.</li>
    % if p["already_leaving"]:
    <li>Already leaving (in cleanup or in review over a cleanup step): {{", ".join(p["already_leaving"])}}.</li>
    % end
    % if p["reassign_cancelled"]:
    <li><strong data-figure="delete-reassign-cancelled">{{len(p["reassign_cancelled"])}}</strong> account(s) waiting to join it stay ready: {{", ".join(p["reassign_cancelled"])}}.</li>
    % end
    <li>{{p["proxies"]}} proxy(ies) serving it are released as its accounts finish cleanup.</li>
  </ul>
  <form method="post" action="/models/{{model['id']}}/delete" class="inline">
    <input type="hidden" name="csrf_token" value="{{csrf}}">
    <button type="submit" class="danger" id="delete-model-button">Delete {{model["name"]}}</button>
    <a href="/models/{{model['id']}}/accounts">Cancel</a>
  </form>
  % end
</section>
