% rebase('layout', title=title)
% def err(name):
%   if errors.get(name):
<span class="bad field-error" id="error-{{name.replace('.', '-')}}">{{errors[name]}}</span>
%   end
% end
<h1>Strategy of {{model["display_name"] or model["name"]}} <small>{{file}}</small></h1>
<p class="sub"><a href="/models/{{model['id']}}/accounts">Back to the model's accounts</a></p>
% if model["archived_at"]:
<p class="empty">This model was deleted (archived) {{show(model["archived_at"])}}: its strategy is kept as it was and cannot be changed.</p>
% else:
% if file_error:
<p class="bad" id="file-error">The file cannot be used as it is: {{file_error}}. The form shows the strategy in force (last applied); saving replaces the file with a valid one.</p>
% end
% if errors:
<p class="bad" id="form-errors">Nothing was saved: correct the fields marked below.</p>
% end
<form method="post" action="/models/{{model['id']}}/strategy" id="strategy-form" class="strategy">
  <input type="hidden" name="csrf_token" value="{{csrf}}">
  <label>Display name (empty: the model's name) <input name="display_name" value="{{form.display_name}}" maxlength="200" id="f-display_name"></label>
  % err("display_name")
  <fieldset id="f-templates"><legend>Template sets it also draws from (<a href="/content">template sets</a>)</legend>
  % for s in sets:
    <label class="radio"><input type="checkbox" name="templates" value="{{s}}" {{"checked" if s in form.templates else ""}}> {{s}}{{" (content/_templates/)" if s == "default" else ""}}</label>
  % end
  % for s in missing_sets:
    <label class="radio bad"><input type="checkbox" name="templates" value="{{s}}" {{"checked" if s in form.templates else ""}}> {{s}}: no such template set</label>
  % end
  % if missing_sets and not errors.get("templates"):
  <span class="bad field-error" id="error-templates-missing">The file lists {{", ".join(missing_sets)}}, which no longer exist{{"s" if len(missing_sets) == 1 else ""}}: untick {{"it" if len(missing_sets) == 1 else "them"}} (or create the set) to save.</span>
  % end
  % err("templates")
  </fieldset>
  <label>Onboarding steps, one a line, in order (empty: none) <textarea name="onboarding" rows="4" cols="30" id="f-onboarding">{{form.onboarding}}</textarea></label>
  % err("onboarding")
  <fieldset id="f-schedule"><legend>Recurring work per account (empty: none)</legend>
  % for k in kinds:
    % number, period = form.schedule.get(k, ("", ""))
    <label>{{k}} <input name="{{k}}_number" value="{{number}}" size="4" inputmode="numeric" id="f-{{k}}_number">
      <select name="{{k}}_period" id="f-{{k}}_period">
        <option value="per_day" {{"selected" if period == "per_day" else ""}}>per day</option>
        <option value="per_week" {{"selected" if period != "per_day" else ""}}>per week</option>
      </select></label>
    % err("schedule." + k)
  % end
  </fieldset>
  <label>Active hours, workspace time zone (empty: the whole day) <input name="active_hours" value="{{form.active_hours}}" placeholder="10:00-22:00" size="12" id="f-active_hours"></label>
  % err("active_hours")
  <label>Preferred proxy locations, in order, separated by commas (empty: any) <input name="locations" value="{{form.locations}}" placeholder="DE, AT" id="f-locations"></label>
  % err("locations")
  <label>Max accounts (empty: no limit) <input name="max_accounts" value="{{form.max_accounts}}" size="6" inputmode="numeric" id="f-max_accounts"></label>
  % err("max_accounts")
  <label>Notes <textarea name="notes" rows="3" cols="50" id="f-notes">{{form.notes}}</textarea></label>
  % err("notes")
  <p><button type="submit" id="save-strategy">Save and apply</button></p>
</form>
<p class="hint">Saving writes <code>{{file}}</code> (the comment lines at its top are kept, other comments are not) and applies it
as <code>igctl model sync</code> does: a changed schedule re-plans the queued slots. The file stays the source of truth: edit it by hand
and run <code>igctl model sync</code>, and this page shows what it says.</p>
<p><a href="/models/{{model['id']}}/delete" class="danger-link" id="delete-link">Delete this model…</a></p>
% end
