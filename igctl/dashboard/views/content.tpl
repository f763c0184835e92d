% rebase('layout', title=title)
<h1>Content</h1>
<section class="panel">
<table class="items" id="pools">
<thead><tr><th>pool</th><th>kind</th><th>folder</th><th>images</th><th>texts</th><th>disabled</th><th>listed by</th><th>warnings</th></tr></thead>
<tbody>
% for p in pools:
<tr data-pool="{{p['pool']}}" id="pool-{{p['pool'].replace('/', '-')}}">
  <td><a href="/content/{{p['pool']}}">{{p["name"]}}</a></td>
  <td>{{"model" if p["kind"] == "model" else ("template set " + p["set"])}}</td>
  <td><code>{{p["folder"]}}</code></td>
  <td data-figure="images">{{p["images"]}}</td>
  <td data-figure="texts">{{p["texts"]}}</td>
  <td data-figure="disabled">{{p["disabled"]}}</td>
  <td>{{", ".join(p["models"]) if p["kind"] == "set" else ""}}</td>
  <td>
  % for w in warnings.get(p["pool"], []):
    <p class="warn">{{w}}</p>
  % end
  </td>
</tr>
% end
</tbody>
</table>
<p class="hint">The same figures as <code>igctl content list</code>. Warm-up and cleanup draw from the default set (<code>_templates</code>); a model draws from its own content and the template sets its strategy lists (<code>templates: true</code> is the default set, <code>templates: [summer]</code> a named one).</p>
</section>

<section class="panel" id="set-forms">
<h2>Template sets</h2>
<form method="post" action="/content/set-create" id="set-create">
  <input type="hidden" name="csrf_token" value="{{csrf}}">
  <label>New set <input name="name" required pattern="[a-z0-9][a-z0-9_-]{0,39}" placeholder="summer" aria-label="new set name"></label>
  <button type="submit">Create</button>
  <span class="hint">lower-case letters, digits, - and _; its folder is <code>content/_templates/NAME/</code></span>
</form>
% named = [p for p in pools if p["kind"] == "set" and p["set"] != "default"]
% if named:
<form method="post" action="/content/set-rename" id="set-rename">
  <input type="hidden" name="csrf_token" value="{{csrf}}">
  <label>Rename <select name="old" aria-label="set to rename">
  % for p in named:
    <option value="{{p['set']}}">{{p["set"]}}</option>
  % end
  </select></label>
  <label>to <input name="new" required aria-label="new name"></label>
  <button type="submit">Rename</button>
  <span class="hint">refused while a model's strategy lists the set</span>
</form>
<form method="post" action="/content/set-delete" id="set-delete">
  <input type="hidden" name="csrf_token" value="{{csrf}}">
  <label>Delete <select name="name" aria-label="set to delete">
  % for p in named:
    <option value="{{p['set']}}">{{p["set"]}}</option>
  % end
  </select></label>
  <label class="radio"><input type="checkbox" name="confirm" value="1" required> its content is retired (kept for history) and its folder moved to <code>content/_templates/.deleted/</code></label>
  <button type="submit">Delete</button>
</form>
% end
</section>
