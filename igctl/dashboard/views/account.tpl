% rebase('layout', title=title)
<h1>{{a["username"]}} <span class="tag {{a['lifecycle_state']}}" id="account-state">{{a["lifecycle_state"]}}</span></h1>
<div class="cols">
<section class="panel">
  <h2>Account</h2>
  <dl class="fields">
    <dt>id</dt><dd>{{a["id"]}}</dd>
    <dt>email</dt><dd id="account-email">{{a["email"] or ""}}</dd>
    <dt>password</dt><dd id="account-password">set</dd>
    <dt>email password</dt><dd id="account-email-password">{{"set" if a["has_email_password"] else "not set"}}</dd>
    <dt>warm-up step</dt><dd>{{a["warmup_step"] or ""}}</dd>
    <dt>model</dt><dd>{{a["model"] or ""}}</dd>
    % p = a["proxy"]
    <dt>proxy</dt><dd>{{("%s %s:%s (%s%s)" % (p["id"], p["host"], p["port"], p["status"], ", " + p["location"] if p["location"] else "")) if p else ""}}</dd>
    <dt>bot</dt><dd>{{a["bot"] or ""}}{{(" slot %s" % a["slot"]) if a["slot"] else ""}}</dd>
    <dt>retries</dt><dd>{{a["retry_count"]}}</dd>
    <dt>last error</dt><dd class="msg">{{a["last_error_message"] or ""}} {{show(a["last_error_at"])}}</dd>
    <dt>imported</dt><dd>{{show(a["created_at"])}}</dd>
    <dt>warm-up</dt><dd>{{show(a["warmup_started_at"])}} → {{show(a["warmup_completed_at"])}}</dd>
    <dt>in model since</dt><dd>{{show(a["assigned_to_model_at"])}}</dd>
    <dt>last bot action</dt><dd>{{a["last_bot_action_by"] or ""}} {{show(a["last_bot_action_at"])}}</dd>
    % if a["retired_at"]:
    <dt>retired</dt><dd>{{show(a["retired_at"])}}: {{a["retired_reason"]}}</dd>
    % end
  </dl>
</section>
<section class="panel" id="actions">
  <h2>Actions</h2>
  % if a["lifecycle_state"] == "human_review":
  <form method="post" action="/review/retry" class="inline">
    <input type="hidden" name="csrf_token" value="{{csrf}}"><input type="hidden" name="next" value="/accounts/{{q(a['username'])}}">
    <input type="hidden" name="usernames" value="{{a['username']}}">
    <button type="submit" id="retry">Retry the stuck step</button>
  </form>
  <form method="post" action="/review/resolve" class="inline">
    <input type="hidden" name="csrf_token" value="{{csrf}}"><input type="hidden" name="next" value="/accounts/{{q(a['username'])}}">
    <input type="hidden" name="usernames" value="{{a['username']}}">
    <input name="note" placeholder="what was done by hand" required aria-label="note">
    <button type="submit" id="resolve">Resolve (done by hand)</button>
  </form>
  % end
  % if a["lifecycle_state"] != "retired":
  <form method="post" action="/accounts/{{q(a['username'])}}/move" class="inline">
    <input type="hidden" name="csrf_token" value="{{csrf}}">
    <label>Move to bot <select name="bot" required>
      <option value="">choose…</option>
      % for b in bots:
      <option value="{{b}}" {{"selected" if b == a["bot"] else ""}}>{{b}}</option>
      % end
    </select></label>
    <button type="submit">Move</button>
  </form>
  <form method="post" action="/accounts/{{q(a['username'])}}/retire" class="inline">
    <input type="hidden" name="csrf_token" value="{{csrf}}">
    <label>Retire, because <input name="reason" required placeholder="banned, disabled…"></label>
    <button type="submit" class="danger" id="retire">Retire</button>
  </form>
  <p class="hint">Retiring frees the proxy slot and device slot; the account never gets a task again.</p>
  <h3>Credentials</h3>
  <form method="post" action="/accounts/{{q(a['username'])}}/credentials" id="credentials-form" class="inline" autocomplete="off">
    <input type="hidden" name="csrf_token" value="{{csrf}}">
    <label>New email <input type="email" name="email" autocomplete="off" placeholder="{{a['email'] or ''}}"></label>
    <label>New password <input type="password" name="password" autocomplete="off"></label>
    <label>Repeat it <input type="password" name="password_repeat" autocomplete="off"></label>
    <label>New email password <input type="password" name="email_password" autocomplete="off"></label>
    <label>Repeat it <input type="password" name="email_password_repeat" autocomplete="off"></label>
    <button type="submit" id="credentials-submit">Change</button>
  </form>
  <p class="hint">Leave a field empty to keep it. Passwords are stored encrypted and never shown here; the event log names the fields that changed. The account's next task carries the new ones (<code>igctl accounts update</code>).</p>
  % else:
  <p class="empty">A retired account takes no action.</p>
  % end
</section>
</div>
% if plan:
<section class="panel">
  <h2>Warm-up plan</h2>
  <div class="scroll"><table><thead><tr><th>step</th><th>name</th><th>status</th><th>due</th><th>completed</th></tr></thead><tbody>
  % for s in plan["steps"]:
  <tr><td>{{s.get("step_number", "")}}</td><td>{{s.get("step_name", "")}}</td><td>{{s.get("status", "")}}</td><td>{{show(s.get("due_at"))}}</td><td>{{show(s.get("completed_at"))}}</td></tr>
  % end
  </tbody></table></div>
</section>
% end
<section class="panel">
  <h2>Open tasks</h2>
  % if not a["open_tasks"]:
  <p class="empty">(none)</p>
  % else:
  <div class="scroll"><table><thead><tr><th>id</th><th>kind</th><th>step</th><th>status</th><th>due</th><th>attempts</th></tr></thead><tbody>
  % for t in a["open_tasks"]:
  <tr><td>{{t["id"]}}</td><td>{{t["kind"]}}</td><td>{{t["step_name"]}}</td><td>{{t["status"]}}</td><td>{{show(t["due_at"])}}</td><td>{{t["attempts"]}}</td></tr>
  % end
  </tbody></table></div>
  % end
</section>
<section class="panel">
  <h2>Step log</h2>
  % if not a["step_log"]:
  <p class="empty">(none)</p>
  % else:
  <div class="scroll"><table id="step-log"><thead><tr><th>step</th><th>kind</th><th>status</th><th>started</th><th>completed</th><th>by</th><th>content used</th><th>error</th><th>screenshot</th></tr></thead><tbody>
  % import json
  % for s in a["step_log"]:
  <tr class="{{'bad' if s['status'] in ('failed', 'requires_review') else ''}}">
    <td>{{s["step_number"]}} {{s["step_name"]}}</td><td>{{s["kind"]}}</td><td>{{s["status"]}}</td>
    <td>{{show(s["started_at"])}}</td><td>{{show(s["completed_at"])}}</td><td>{{s.get("bot_session_id") or ""}}</td>
    <td class="msg"><code>{{"" if s.get("content_used") is None else json.dumps(s["content_used"], ensure_ascii=False)[:300]}}</code></td>
    <td class="msg">{{s["error_message"] or ""}}</td>
    <td>
    % if s.get("screenshot_path"):
      <a href="/accounts/{{q(a['username'])}}/screenshots/{{s['id']}}"><img src="/accounts/{{q(a['username'])}}/screenshots/{{s['id']}}" alt="screenshot of the failed step" class="shot"></a>
    % end
    </td>
  </tr>
  % end
  </tbody></table></div>
  % end
</section>
<section class="panel">
  <h2>Events</h2>
  <div class="scroll"><table id="events"><thead><tr><th>at</th><th>kind</th><th>actor</th><th>state</th><th>message</th></tr></thead><tbody>
  % for e in reversed(a["events"]):
  <tr><td>{{show(e["at"])}}</td><td>{{e["kind"]}}</td><td>{{e["actor"]}}</td><td>{{(e["old_state"] or "") + (" → " + e["new_state"] if e["new_state"] else "")}}</td><td class="msg">{{e["message"] or ""}}</td></tr>
  % end
  </tbody></table></div>
</section>
