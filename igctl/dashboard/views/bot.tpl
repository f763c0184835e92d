% rebase('layout', title=title)
% state = "revoked" if b["revoked"] else ("online" if b["online"] else "offline")
<h1>Bot {{b["name"]}} <span class="tag {{state}}" id="bot-state">{{state}}</span></h1>
<div class="cols">
<section class="panel">
  <h2>Phone</h2>
  <dl class="fields" id="bot-fields">
    <dt>id</dt><dd>{{b["id"]}}</dd>
    <dt>slots</dt><dd data-figure="slots">{{"no limit" if b["slots"] is None else b["slots"]}}</dd>
    <dt>bound accounts</dt><dd data-figure="bound_accounts">{{b["bound_accounts"]}}</dd>
    <dt>last seen</dt><dd>{{show(b["last_seen_at"]) or "never"}} <span class="hint">(heartbeat, claim or report)</span></dd>
    <dt>status</dt><dd>{{b["status"] or ""}}</dd>
    <dt>app version</dt><dd id="app-version">{{b["app_version"] or ""}}</dd>
    <dt>current task</dt><dd>{{b["current_task_id"] or ""}}</dd>
    <dt>done / failed today</dt><dd>{{b["done_today"]}} / {{b["failed_today"]}}</dd>
    <dt>added</dt><dd>{{show(b["created_at"])}}</dd>
    % if b["revoked"]:
    <dt>revoked</dt><dd>{{show(b["revoked_at"])}}</dd>
    % end
  </dl>
  <h2>System info <small>(last heartbeat)</small></h2>
  % if not b["system_info"]:
  <p class="empty">(none reported)</p>
  % elif isinstance(b["system_info"], dict):
  <dl class="fields" id="system-info">
    % import json
    % for k, v in b["system_info"].items():
    <dt>{{k}}</dt><dd>{{v if isinstance(v, (str, int, float)) else json.dumps(v, ensure_ascii=False)}}</dd>
    % end
  </dl>
  % else:
  % import json
  <pre id="system-info">{{json.dumps(b["system_info"], indent=2, ensure_ascii=False)}}</pre>
  % end
</section>
<section class="panel" id="actions">
  <h2>Actions</h2>
  % if b["revoked"]:
  <p class="empty">A revoked bot takes no action; its history stays below.</p>
  % else:
  <p><a href="/bots/{{b['id']}}/console" id="console-link">Open the bot console</a>: claim this bot's next task and report it, as the phone would.</p>
  <form method="post" action="/bots/{{b['id']}}/slots" class="inline">
    <input type="hidden" name="csrf_token" value="{{csrf}}">
    <label>Slots (empty or "none": no limit) <input name="slots" size="6" value="{{'' if b['slots'] is None else b['slots']}}"></label>
    <button type="submit" id="slots-button">Set slots</button>
  </form>
  <p class="hint">A limit below the slots its bound accounts use is refused: move or retire those accounts first.</p>
  <p><a href="/bots/{{b['id']}}/revoke" class="danger-link" id="revoke-link">Revoke this bot…</a></p>
  % end
</section>
</div>
<section class="panel">
  <h2>Accounts bound <small>{{len(b["accounts"])}}</small></h2>
  % if not b["accounts"]:
  <p class="empty">(none)</p>
  % else:
  <div class="scroll"><table id="bound-accounts"><thead><tr><th>slot</th><th>account</th><th>state</th><th>model</th><th>proxy</th><th>last bot action</th></tr></thead><tbody>
  % for a in b["accounts"]:
  <tr><td>{{a["slot"]}}</td><td><a href="/accounts/{{q(a['username'])}}">{{a["username"]}}</a></td><td>{{a["lifecycle_state"]}}</td><td>{{a["model"] or ""}}</td><td>{{a["proxy_id"] or ""}}</td><td>{{show(a["last_bot_action_at"])}}</td></tr>
  % end
  </tbody></table></div>
  % end
</section>
<section class="panel">
  <h2>Tasks held now <small>{{len(b["held"])}}</small></h2>
  % include('_held', b=b)
</section>
<section class="panel">
  <h2>Last {{len(b["recent"])}} tasks</h2>
  % if not b["recent"]:
  <p class="empty">(none yet)</p>
  % else:
  <div class="scroll"><table id="recent-tasks"><thead><tr><th>task</th><th>account</th><th>kind</th><th>step</th><th>attempt</th><th>started</th><th>ended</th><th>outcome</th><th>error</th><th>task now</th></tr></thead><tbody>
  % for r in b["recent"]:
  <tr class="{{'bad' if r['outcome'] in ('failed', 'requires_review') else ''}}">
    <td>{{r["task_id"]}}</td><td><a href="/accounts/{{q(r['username'])}}">{{r["username"]}}</a></td><td>{{r["kind"]}}</td>
    <td>{{r["step_number"] or ""}} {{r["step_name"]}}</td><td>{{r["attempt"]}}</td><td>{{show(r["started_at"])}}</td><td>{{show(r["completed_at"])}}</td>
    <td>{{r["outcome"]}}</td><td class="msg">{{(r["error_kind"] + ": ") if r["error_kind"] else ""}}{{r["error_message"] or ""}}</td><td>{{r["task_status"] or ""}}</td>
  </tr>
  % end
  </tbody></table></div>
  % end
</section>
