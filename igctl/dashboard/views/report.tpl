% rebase('layout', title=title)
% pct = lambda x: "–" if x is None else "%.1f%%" % (x * 100)
% num = lambda x: "–" if x is None else ("%g" % x)
<h1>Report</h1>
<form method="get" action="/report" class="filters">
  <label>Model <select name="model"><option value="">all</option>
  % for n in model_names:
    <option value="{{n}}" {{"selected" if n == given["model"] else ""}}>{{n}}</option>
  % end
  </select></label>
  <label>Since <input name="since" value="{{given['since']}}" placeholder="YYYY-MM-DD" size="10"></label>
  <label>Until <input name="until" value="{{given['until']}}" placeholder="YYYY-MM-DD" size="10"></label>
  <button type="submit">Show</button>
</form>
<p class="sub">Generated {{show(r["generated_at"])}} ({{r["timezone"]}}). The same figures as <code>igctl report --json</code>.</p>
<div class="cols">
<section class="panel"><h2>Accounts by state</h2>
<table id="report-states"><tbody>
% for s, n in r["accounts_by_state"].items():
<tr><td>{{s}}</td><td data-figure="report-state-{{s}}">{{n}}</td></tr>
% end
</tbody></table></section>
<section class="panel"><h2>Conversion</h2>
<table><thead><tr><th>stage</th><th>accounts</th><th>of previous</th><th>of imported</th></tr></thead><tbody>
% for f in r["conversion"]["funnel"]:
<tr><td>{{f["stage"]}}</td><td data-figure="report-funnel-{{f['stage']}}">{{f["accounts"]}}</td><td>{{pct(f["rate_from_previous"])}}</td><td>{{pct(f["rate_from_imported"])}}</td></tr>
% end
<tr><td>went to review</td><td>{{r["conversion"]["went_to_review"]}}</td><td></td><td></td></tr>
<tr><td>retired</td><td>{{r["conversion"]["retired"]}}</td><td></td><td></td></tr>
</tbody></table></section>
<section class="panel"><h2>Proxies</h2>
% p = r["proxies"]
<p>{{p["total"]}} proxies ({{p["active"]}} active, {{p["inactive"]}} inactive, {{p["in_error"]}} in error), {{p["in_use"]}} in use; slots <span data-figure="report-used-slots">{{p["used_slots"]}}</span>/{{p["slots"]}} used ({{pct(p["utilization"])}}), <span data-figure="report-free-slots">{{p["free_slots"]}}</span> free.</p>
<p>Monthly cost {{num(p["monthly_cost"])}}, per active account {{num(p["cost_per_active_account"])}}.</p>
</section>
</div>
<section class="panel"><h2>Warm-up steps</h2>
<div class="scroll"><table id="report-steps"><thead><tr><th>step</th><th>completed</th><th>failed attempts</th><th>success</th><th>median s</th><th>p90 s</th></tr></thead><tbody>
% for k, s in r["warmup_steps"].items():
<tr><td>{{k}} {{s.get("step_name") or ""}}</td><td data-figure="report-step-{{k}}-completed">{{s["completed"]}}</td><td data-figure="report-step-{{k}}-failed">{{s["failed"]}}</td><td>{{pct(s["success_rate"])}}</td><td>{{num(s["median_seconds"])}}</td><td>{{num(s.get("p90_seconds"))}}</td></tr>
% end
</tbody></table></div></section>
<div class="cols">
<section class="panel"><h2>Bots</h2>
% if not r["bots"]:
<p class="empty">(no bots)</p>
% else:
<div class="scroll"><table><thead><tr><th>bot</th><th>completed</th><th>failed</th><th>failure rate</th><th>last seen</th></tr></thead><tbody>
% for b in r["bots"]:
<tr><td>{{b["name"]}}</td><td>{{b["completed"]}}</td><td>{{b["failed"]}}</td><td>{{pct(b["failure_rate"])}}</td><td>{{show(b["last_seen_at"]) or "never"}}</td></tr>
% end
</tbody></table></div>
% end
</section>
<section class="panel"><h2>Models</h2>
% if not r["models"]:
<p class="empty">(no models)</p>
% else:
<div class="scroll"><table><thead><tr><th>model</th><th>accounts</th><th>active</th><th>tasks done</th><th>failed</th><th>growth</th></tr></thead><tbody>
% for m in r["models"]:
<tr><td>{{m["name"]}}</td><td>{{m["accounts"]}}</td><td>{{m["active_accounts"]}}</td><td>{{m["tasks_completed"]}}</td><td>{{m["tasks_failed"]}}</td><td>{{num(m["follower_growth"])}}</td></tr>
% end
</tbody></table></div>
% end
</section>
<section class="panel"><h2>Errors by kind</h2>
% if not r["errors"]:
<p class="empty">(no errors)</p>
% else:
<table><tbody>
% for k, n in r["errors"].items():
<tr><td>{{k}}</td><td data-figure="report-error-{{k}}">{{n}}</td></tr>
% end
</tbody></table>
% end
</section>
</div>
<section class="panel wide"><h2>Charts</h2>
<p class="hint">The charts of <code>igctl report --html</code> (they need JavaScript): <a href="{{charts}}" target="_blank" rel="noopener">open them on their own page</a>.</p>
<iframe src="{{charts}}" title="report charts" class="charts" id="report-charts"></iframe>
</section>
