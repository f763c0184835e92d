% rebase('layout', title=title)
<h1>Task {{t["task_id"]}} · {{t["kind"]}} {{t["step_name"]}} <small>bot <a href="/bots/{{b['id']}}/console">{{b["name"]}}</a></small></h1>
<div class="cols">
<section class="panel" id="task-summary">
  <h2>What the bot received</h2>
  <dl class="fields">
    <dt>account</dt><dd><a href="/accounts/{{q(t['account']['username'])}}" id="task-account">{{t["account"]["username"]}}</a> (id {{t["account"]["id"]}})</dd>
    <dt>password</dt><dd><code id="account-password">{{t["account"]["password"] or ""}}</code></dd>
    <dt>email</dt><dd>{{t["account"]["email"] or ""}}</dd>
    <dt>email password</dt><dd><code id="email-password">{{t["account"]["email_password"] or ""}}</code></dd>
    % p = t["proxy"]
    <dt>proxy</dt><dd id="task-proxy">{{p["scheme"]}}://{{(p["username"] + "@") if p["username"] else ""}}{{p["host"]}}:{{p["port"]}} (id {{p["id"]}})</dd>
    <dt>proxy password</dt><dd><code id="proxy-password">{{p["password"] or ""}}</code></dd>
    <dt>step</dt><dd>{{t["kind"]}} · {{t["step_number"] or ""}} {{t["step_name"]}}</dd>
    <dt>slot</dt><dd>{{t["slot"]}}</dd>
    <dt>attempt</dt><dd>{{t["attempt"]}}</dd>
    <dt>lease until</dt><dd>{{show(t["lease_expires_at"])}}
      <form method="post" action="/bots/{{b['id']}}/console/heartbeat" class="inline">
        <input type="hidden" name="csrf_token" value="{{csrf}}">
        <input type="hidden" name="next" value="/bots/{{b['id']}}/console/tasks/{{t['task_id']}}">
        <button type="submit" id="heartbeat-button">Keep the lease</button>
        <span class="hint">= the heartbeat's lease extension; a lease that runs out sends the task back to the queue</span>
      </form></dd>
  </dl>
  % if revealed:
  <p class="warn" id="revealed-note">Passwords shown on this page only; revealing them was recorded in the event log.</p>
  % else:
  <form method="post" action="/bots/{{b['id']}}/console/tasks/{{t['task_id']}}/reveal" class="inline">
    <input type="hidden" name="csrf_token" value="{{csrf}}">
    <button type="submit" id="reveal-button">Reveal passwords</button>
    <span class="hint">recorded in the event log with your name and the account (never the password)</span>
  </form>
  % end
</section>
<section class="panel" id="task-content">
  <h2>Content</h2>
  % c = t["content"] or {}
  % if not c.get("texts") and not c.get("images"):
  <p class="empty">(no content for this step)</p>
  % end
  % for kind, text in (c.get("texts") or {}).items():
  <p><strong>{{kind}}</strong> <span class="hint">(content {{text.get("content_id", "") if isinstance(text, dict) else ""}})</span><br>
  <span class="msg text-content">{{text.get("text", "") if isinstance(text, dict) else text}}</span></p>
  % end
  % for i in c.get("images") or []:
  <figure class="preview">
    <a href="/content/images/{{i['content_id']}}"><img src="/content/images/{{i['content_id']}}" alt="{{i.get('type') or 'image'}} {{i['content_id']}}" class="shot"></a>
    <figcaption>{{i.get("type") or ""}} · content {{i["content_id"]}}</figcaption>
  </figure>
  % end
</section>
</div>
<section class="panel" id="report">
  <h2>Report</h2>
  <div class="cols">
  <form method="post" action="/bots/{{b['id']}}/console/tasks/{{t['task_id']}}/complete" id="complete-form">
    <input type="hidden" name="csrf_token" value="{{csrf}}">
    <h3>Completed</h3>
    <p class="hint">= <code>POST /api/bot/step-complete</code>; figures = <code>POST /api/bot/account/{{t["account"]["id"]}}/metrics</code> (all optional)</p>
    <label>Execution time (ms) <input name="execution_time_ms" inputmode="numeric" size="8"></label>
    % for name in figures:
    <label>{{name}} <input name="{{name}}" inputmode="numeric" size="8"></label>
    % end
    <p><button type="submit" id="complete-button">Complete</button></p>
  </form>
  <form method="post" action="/bots/{{b['id']}}/console/tasks/{{t['task_id']}}/fail" id="fail-form">
    <input type="hidden" name="csrf_token" value="{{csrf}}">
    <h3>Failed</h3>
    <p class="hint">= <code>POST /api/bot/step-failed</code></p>
    <label>Error kind <select name="error_kind">
      % for k in error_kinds:
      <option value="{{k}}" {{"selected" if k == "other" else ""}}>{{k}}</option>
      % end
    </select></label>
    <label>Error message <input name="error_message" required size="40" placeholder="what went wrong"></label>
    <label>Retry after (seconds, optional) <input name="retry_after_seconds" inputmode="numeric" size="8"></label>
    <label class="radio"><input type="checkbox" name="requires_review" value="1"> needs a person (human review at once)</label>
    <p><button type="submit" class="danger" id="fail-button">Fail</button></p>
  </form>
  </div>
</section>
<section class="panel">
  <h2>The API's answer <small>(<code>GET /api/bot/next-task/{{b['id']}}</code>{{"" if revealed else ", passwords masked"}})</small></h2>
  <pre id="api-json">{{api_json}}</pre>
</section>
