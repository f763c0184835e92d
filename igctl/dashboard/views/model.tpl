% rebase('layout', title=title)
% labels = {"overview": "A · Overview", "available": "B · Available", "pipeline": "C · Warm-up pipeline", "proxies": "D · Proxies", "attention": "E · Needs attention"}
% base_url = "/models/%d/accounts" % summary["id"]
<h1>{{summary["display_name"]}} <small>{{summary["name"]}}{{" (archived)" if summary["archived_at"] else ""}}</small></h1>
% if not summary["archived_at"]:
<p class="sub model-actions"><a href="/models/{{summary['id']}}/strategy" id="strategy-link">Strategy</a> · <a href="/content/{{summary['slug']}}">Content</a> · <a href="/models/{{summary['id']}}/delete" id="delete-model-link">Delete…</a></p>
% end
<p class="sub">{{summary["active"]}} active · {{summary["onboarding"]}} onboarding · {{summary["cleanup"]}} in cleanup · {{summary["human_review"]}} in review · {{summary["proxies"]}} proxies</p>
<nav class="tabs" id="tabs">
% for v in views:
  <a href="{{base_url}}?view={{v}}" class="{{'on' if v == view else ''}}" id="tab-{{v}}">{{labels[v]}}</a>
% end
</nav>
<section class="panel" id="view-{{view}}">
% if view == "overview":
  % if not data:
  <p class="empty">No accounts in this model yet: assign some from the Available tab.</p>
  % else:
  % live = not summary["archived_at"]
  % if live:
  <form method="post" action="/models/{{summary['id']}}/unassign" id="unassign-form">
  <input type="hidden" name="csrf_token" value="{{csrf}}">
  % end
  <div class="scroll"><table id="overview-table">
  <thead><tr>{{!'<th><input type="checkbox" data-select-all="usernames" aria-label="select all"></th>' if live else ''}}<th>account</th><th>phase</th><th>proxy</th><th>bot</th><th>task</th><th>due</th><th>last action</th><th>followers</th><th>7d</th><th>done 7d</th></tr></thead>
  <tbody>
  % for r in data:
  <tr data-username="{{r['username']}}">
    % if live:
    <td>
    % if not r["phase"].startswith("cleanup"):
      <input type="checkbox" name="usernames" value="{{r['username']}}" aria-label="select {{r['username']}}">
    % end
    </td>
    % end
    <td><a href="/accounts/{{q(r['username'])}}">{{r["username"]}}</a></td>
    <td>{{r["phase"]}}</td>
    <td>{{r["proxy_id"] or ""}} {{r["proxy_location"] or ""}}</td>
    <td>{{r["bot"] or ""}}</td>
    <td>{{" ".join(x for x in (r["task_kind"], r["task_step"], r["task_status"]) if x)}}</td>
    <td>{{show(r["task_due_at"])}}</td>
    <td>{{show(r["last_bot_action_at"])}}</td>
    <td>{{"" if r["followers"] is None else r["followers"]}}</td>
    <td>{{"" if r["followers_change_7d"] is None else "%+d" % r["followers_change_7d"]}}</td>
    <td>{{r["tasks_done_7d"]}}</td>
  </tr>
  % end
  </tbody></table></div>
  % if live:
  <p class="bulk"><button type="submit" name="action" value="unassign" id="unassign-selected">Unassign selected (to cleanup)</button>
  % if move_targets:
  or move them to <select name="to_model" aria-label="model to move to" id="move-target">
  % for m in move_targets:
    <option value="{{m['id']}}">{{m["display_name"]}} ({{m["name"]}})</option>
  % end
  </select> <button type="submit" name="action" value="move" id="move-selected">Move</button>
  % end
  </p>
  <p class="hint">Unassigned accounts go through cleanup (reset_pfp, reset_bio, delete_posts) back to ready, as <code>igctl model unassign</code>.
  Moved accounts (active ones) go through the same cleanup, then join the other model by themselves, as <code>igctl model assign OTHER USERNAME… --reassign</code>.</p>
  </form>
  % end
  % end
% elif view == "available":
  <form method="get" action="{{base_url}}" class="filters">
    <input type="hidden" name="view" value="available">
    <label>Proxy location <input name="location" value="{{filters['location'] or ''}}" size="6"></label>
    <label>Max warm-up retries <input name="max_retries" value="{{'' if filters['max_retries'] is None else filters['max_retries']}}" size="3" inputmode="numeric"></label>
    <label>Min followers <input name="min_followers" value="{{'' if filters['min_followers'] is None else filters['min_followers']}}" size="5" inputmode="numeric"></label>
    <button type="submit">Filter</button>
  </form>
  % if not data:
  <p class="empty">No ready accounts{{" match these filters" if any(v is not None for v in filters.values()) else ""}}.</p>
  % else:
  <form method="post" action="/models/{{summary['id']}}/assign" id="assign-form">
  <input type="hidden" name="csrf_token" value="{{csrf}}">
  % for key, value in filters.items():
  % if value is not None:
  <input type="hidden" name="{{key}}" value="{{value}}">
  % end
  % end
  <div class="scroll"><table id="available-table">
  <thead><tr><th><input type="checkbox" data-select-all="usernames" aria-label="select all"></th><th>account</th><th>proxy</th><th>location</th><th>warm-up hours</th><th>retries</th><th>followers</th><th>eligible</th></tr></thead>
  <tbody>
  % for r in data:
  <tr data-username="{{r['username']}}" class="{{'' if r['eligible'] else 'dim'}}">
    <td>
    % if r["eligible"]:
      <input type="checkbox" name="usernames" value="{{r['username']}}" aria-label="select {{r['username']}}">
    % end
    </td>
    <td><a href="/accounts/{{q(r['username'])}}">{{r["username"]}}</a></td>
    <td>{{r["proxy_id"] or ""}}</td>
    <td>{{r["proxy_location"] or ""}}{{" ★" if r["preferred_location"] else ""}}</td>
    <td>{{"" if r["warmup_hours"] is None else r["warmup_hours"]}}</td>
    <td>{{r["warmup_retries"]}}</td>
    <td>{{"" if r["followers"] is None else r["followers"]}}</td>
    <td>{{"yes" if r["eligible"] else "no: " + r["reason"]}}</td>
  </tr>
  % end
  </tbody></table></div>
  <p class="bulk"><button type="submit" id="assign-selected">Assign selected to this model</button>
  or the best <input name="count" size="3" inputmode="numeric" aria-label="how many"> eligible{{" of those shown" if any(v is not None for v in filters.values()) else ""}} <button type="submit" id="assign-count">Assign</button></p>
  <p class="hint">Onboarding (new profile picture and bio) is queued at once for each assigned account.</p>
  </form>
  % end
% elif view == "pipeline":
  % warm = data["warmup"]
  <h2>Warm-up (fleet-wide)</h2>
  <div class="steps">
  % for s in warm["steps"]:
    % rows = [a for a in warm["accounts"] if a["step_number"] == s["step_number"]]
    <div class="step" id="step-{{s['step_number']}}">
      <h3>Step {{s["step_number"]}} · {{s["step_name"]}} <span data-figure="pipeline-step-{{s['step_number']}}">{{s["accounts"]}}</span></h3>
      <progress max="{{len(warm['steps'])}}" value="{{s['step_number'] - 1}}"></progress>
      <p class="sub">{{s["due"]}} due · {{s["waiting"]}} waiting · {{s["in_progress"]}} in progress · {{s["retry_wait"]}} retrying · {{s["human_review"]}} in review</p>
      % if rows:
      <ul>
      % for a in rows:
        <li><a href="/accounts/{{q(a['username'])}}">{{a["username"]}}</a> <span class="tag {{a['step_status']}}">{{a["step_status"]}}</span>
        {{("due " + show(a["due_at"])) if a["due_at"] else ""}}{{" · " + a["proxy_location"] if a.get("preferred_location") else ""}}
        % if a["last_error"]:
        <br><span class="bad">{{a["attempts"]}} attempt(s): {{a["last_error"]}}</span>
        % end
        </li>
      % end
      </ul>
      % end
    </div>
  % end
  </div>
  % for section in ("onboarding", "cleanup"):
  <h2>{{section.capitalize()}} of this model</h2>
  % if not data[section]:
  <p class="empty">(none)</p>
  % else:
  <div class="scroll"><table>
  <thead><tr><th>account</th><th>step</th><th>status</th><th>due</th><th>attempts</th><th>last error</th></tr></thead>
  <tbody>
  % for r in data[section]:
  <tr><td><a href="/accounts/{{q(r['username'])}}">{{r["username"]}}</a></td><td>{{r["step_number"]}}/{{r["steps"]}} {{r["step_name"]}}</td><td>{{r["status"]}}</td><td>{{show(r["due_at"])}}</td><td>{{r["attempts"]}}</td><td>{{r["last_error"] or ""}}</td></tr>
  % end
  </tbody></table></div>
  % end
  % end
% elif view == "proxies":
  <h2>This model's proxies</h2>
  % if not data["model_proxies"]:
  <p class="empty">(none yet: a proxy serves the model once one of its accounts is active in it)</p>
  % else:
  <div class="scroll"><table id="model-proxies">
  <thead><tr><th>id</th><th>host</th><th>location</th><th>status</th><th>accounts</th></tr></thead>
  <tbody>
  % for p in data["model_proxies"]:
  <tr><td>{{p["id"]}}</td><td>{{p["host"]}}:{{p["port"]}}</td><td>{{p["location"] or ""}}</td><td>{{p["status"]}}</td><td>{{p["account_count"]}}/{{p["max_accounts"]}}: {{", ".join(p["accounts"])}}</td></tr>
  % end
  </tbody></table></div>
  % end
  <h2>Free proxies with room <small data-figure="free-proxies">{{len(data["free_proxies"])}}</small></h2>
  % if not data["free_proxies"]:
  <p class="empty">(none)</p>
  % else:
  <div class="scroll"><table id="free-proxies">
  <thead><tr><th>id</th><th>host</th><th>location</th><th>provider</th><th>used</th></tr></thead>
  <tbody>
  % for p in data["free_proxies"]:
  <tr><td>{{p["id"]}}</td><td>{{p["host"]}}:{{p["port"]}}</td><td>{{p["location"] or ""}}</td><td>{{p["provider"] or ""}}</td><td>{{p["account_count"]}}/{{p["max_accounts"]}}</td></tr>
  % end
  </tbody></table></div>
  % end
  <h2>Which model uses which proxy</h2>
  % if not data["proxy_models"]:
  <p class="empty">(no proxy serves a model yet)</p>
  % else:
  <div class="scroll"><table>
  <thead><tr><th>proxy</th><th>host</th><th>location</th><th>model</th><th>used</th><th>status</th></tr></thead>
  <tbody>
  % for p in data["proxy_models"]:
  <tr><td>{{p["proxy_id"]}}</td><td>{{p["host"]}}:{{p["port"]}}</td><td>{{p["location"] or ""}}</td><td>{{p["model"]}}</td><td>{{p["account_count"]}}/{{p["max_accounts"]}}</td><td>{{p["status"]}}</td></tr>
  % end
  </tbody></table></div>
  % end
  % include('_proxy_assign', unplaced=ready_or_unplaced, back_to=base_url + "?view=proxies")
% else:
  % include('_attention', items=data, back_to=base_url + "?view=attention")
% end
</section>
