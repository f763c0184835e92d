% rebase('layout', title=title)
<h1>Delete {{len(items)}} item(s)?</h1>
<section class="panel">
<table class="items" id="delete-items">
<thead><tr><th>id</th><th>type</th><th>item</th><th>used</th></tr></thead>
<tbody>
% for r in items:
<tr><td>{{r["content_id"]}}</td><td>{{r["type"]}}</td>
  <td>
  % if r["kind"] == "image":
    <img class="thumb" loading="lazy" src="/content/images/{{r['content_id']}}" alt="{{r['path']}}"> <code>{{r["path"]}}</code>
  % else:
    {{r["text"]}}
  % end
  </td><td>{{r["usage_count"]}}</td></tr>
% end
</tbody>
</table>
<p>An image's file is removed from <code>content/</code>; a text is taken out of its <code>texts.yaml</code>. Each row is retired, not erased: an item already used keeps its record (the tasks and the step log still show it).</p>
<form method="post" action="/content/items" id="confirm-delete">
  <input type="hidden" name="csrf_token" value="{{csrf}}">
  <input type="hidden" name="next" value="{{next}}">
  <input type="hidden" name="confirm" value="1">
  % for i in ids:
  <input type="hidden" name="ids" value="{{i}}">
  % end
  <button type="submit" name="act" value="delete" id="delete-confirm">Delete</button>
  <a href="{{next}}">Cancel</a>
</form>
</section>
