% if not b["held"]:
<p class="empty">(none)</p>
% else:
<div class="scroll"><table id="held-tasks"><thead><tr><th>task</th><th>account</th><th>slot</th><th>kind</th><th>step</th><th>attempt</th><th>claimed</th><th>lease until</th><th></th></tr></thead><tbody>
% for t in b["held"]:
<tr>
  <td>{{t["task_id"]}}</td><td>{{t["username"]}}</td><td>{{t["slot"] or ""}}</td><td>{{t["kind"]}}</td><td>{{t["step_number"] or ""}} {{t["step_name"]}}</td>
  <td>{{t["attempt"]}}</td><td>{{show(t["claimed_at"])}}</td><td>{{show(t["lease_expires_at"])}}{{" (ran out)" if t["lease_expired"] else ""}}</td>
  <td><a href="/bots/{{b['id']}}/console/tasks/{{t['task_id']}}">open in the console</a></td>
</tr>
% end
</tbody></table></div>
% end
