% rebase('layout', title=title)
<h1>Import</h1>
<section class="panel">
<form method="post" action="/import" enctype="multipart/form-data" id="import-form">
  <input type="hidden" name="csrf_token" value="{{csrf}}">
  <fieldset><legend>The file holds</legend>
    <label class="radio"><input type="radio" name="kind" value="accounts" {{"checked" if kind == "accounts" else ""}}> accounts (<code>username,password,email[,email password[,extra…]]</code> a line)</label>
    <label class="radio"><input type="radio" name="kind" value="proxies" {{"checked" if kind == "proxies" else ""}}> proxies (<code>host:port[:user:pass]</code>, <code>user:pass@host:port</code>, <code>scheme://…</code> a line)</label>
  </fieldset>
  <label>File <input type="file" name="file" required></label>
  <label class="radio"><input type="checkbox" name="no_assign" value="1"> accounts: do not auto-assign free proxy slots</label>
  <details><summary>proxies: provider, location, cost</summary>
    <label>Provider <input name="provider"></label>
    <label>Location <input name="location" size="6"></label>
    <label>Monthly cost <input name="cost" size="6" inputmode="decimal"></label>
  </details>
  <button type="submit" id="import-submit">Import</button>
</form>
<p class="hint">The same import as <code>igctl accounts import</code> / <code>igctl proxy import</code>: one file is one transaction; bad lines and duplicates are reported with their line numbers and skipped. The uploaded file is deleted once imported.</p>
</section>
% if result is not None:
<section class="panel" id="import-result">
  <h2>{{result["file"]}}</h2>
  <p><b data-figure="imported">{{result["imported"]}}</b> {{kind}} imported,
  <b data-figure="duplicates">{{len(result["duplicates"])}}</b> duplicate(s),
  <b data-figure="invalid">{{len(result["invalid"])}}</b> invalid line(s){{(", %d proxy slot(s) assigned" % result["proxies_assigned"]) if "proxies_assigned" in result else ""}}.</p>
  % notes = [(b["line"], "invalid", b["reason"]) for b in result["invalid"]]
  % if kind == "accounts":
  %   notes += [(d["line"], "duplicate", "%s (%s)" % (d["username"], d["reason"])) for d in result["duplicate_lines"]]
  % else:
  %   notes += [(d["line"], "duplicate", "%s (%s)" % (d["proxy"], d["reason"])) for d in result["duplicates"]]
  % end
  % if notes:
  <table id="import-notes"><thead><tr><th>line</th><th>skipped</th><th>why</th></tr></thead><tbody>
  % for line, what, why in sorted(notes):
  <tr class="{{what}}"><td>{{line}}</td><td>{{what}}</td><td>{{why}}</td></tr>
  % end
  </tbody></table>
  % end
</section>
% end
