% rebase('layout', title=title)
<p><a href="/content">Content</a> ›</p>
<h1>{{p["name"]}}</h1>
<p class="sub">{{"model" if p["kind"] == "model" else "template set " + p["set"]}} · <code>{{p["folder"]}}</code> ·
  <span data-figure="images">{{p["images"]}}</span> images, <span data-figure="texts">{{p["texts"]}}</span> texts, <span data-figure="disabled">{{p["disabled"]}}</span> disabled
  % if p["kind"] == "set":
  · listed by {{", ".join(p["models"]) or "no model"}}
  % end
</p>
% for w in warnings:
<p class="warn">{{w}}</p>
% end

<section class="panel" id="upload">
<h2>Upload images</h2>
<form method="post" action="/content/upload" enctype="multipart/form-data" id="upload-form">
  <input type="hidden" name="csrf_token" value="{{csrf}}">
  <input type="hidden" name="pool" value="{{p['pool']}}">
  <label>Category <select name="type" id="upload-type">
  % for t in image_types:
    <option value="{{t}}">{{t}}</option>
  % end
  </select></label>
  <label>Images <input type="file" name="files" multiple required accept="{{accept}}" id="upload-files"></label>
  <button type="submit" id="upload-submit">Upload</button>
</form>
<p class="hint">JPEG, PNG, WebP or HEIC, each checked by its first bytes; at most {{"%g" % max_mb}} MB (import.max_file_mb) for the whole upload; a name that is there already, or one file that is not an image, and nothing is kept. The same as <code>igctl content add {{p["pool"]}} TYPE FILE…</code>.</p>
</section>

% for t in image_types:
% imgs = p["image_items"][t]
<section class="panel" id="images-{{t}}">
<h2>{{t}} <span class="sub">{{len(imgs)}} image(s)</span></h2>
% if not imgs:
<p class="empty">No {{t}} images.</p>
% else:
<form method="post" action="/content/items" id="items-{{t}}">
  <input type="hidden" name="csrf_token" value="{{csrf}}">
  <input type="hidden" name="next" value="{{path}}#images-{{t}}">
  <ul class="thumbs">
  % for r in imgs:
    <li class="thumb-item{{' disabled' if r['disabled'] else ''}}" data-content-id="{{r['content_id']}}">
      <label><input type="checkbox" name="ids" value="{{r['content_id']}}" aria-label="select {{r['path']}}">
      <img class="thumb" loading="lazy" src="/content/images/{{r['content_id']}}" alt="{{r['path']}}"></label>
      <span class="name" title="{{r['path']}}">{{r["path"].rsplit("/", 1)[-1]}}</span>
      <span class="used">used <b data-figure="used-{{r['content_id']}}">{{r["usage_count"]}}</b>{{" · disabled" if r["disabled"] else ""}}</span>
      % if r["disabled"]:
      <button type="submit" name="act" value="enable:{{r['content_id']}}">Enable</button>
      % else:
      <button type="submit" name="act" value="disable:{{r['content_id']}}">Disable</button>
      % end
      <button type="submit" name="act" value="delete:{{r['content_id']}}">Delete</button>
    </li>
  % end
  </ul>
  <p class="bulk"><label class="radio"><input type="checkbox" data-select-all="ids"> all</label> Selected:
    <button type="submit" name="act" value="disable">Disable</button>
    <button type="submit" name="act" value="enable">Enable</button>
    <button type="submit" name="act" value="delete">Delete</button></p>
</form>
% end
</section>
% end

% if p["texts_error"]:
<p class="warn" id="texts-error">{{p["texts_error"]}}</p>
% end
% for t in text_types:
% listed = p["text_lists"].get(t, [])
% rows = p["text_items"].get(t, [])
% multiline = any("\n" in x for x in listed)
<section class="panel" id="texts-{{t}}">
<h2>{{t}} texts <span class="sub">{{len(rows)}} text(s)</span></h2>
<form method="post" action="/content/texts" id="texts-form-{{t}}">
  <input type="hidden" name="csrf_token" value="{{csrf}}">
  <input type="hidden" name="pool" value="{{p['pool']}}">
  <input type="hidden" name="type" value="{{t}}">
  % if multiline:
  <p class="hint">This list holds a text of several lines: edit <code>{{p["folder"]}}texts.yaml</code> instead.</p>
  % else:
  <textarea name="lines" rows="{{max(4, min(len(listed) + 2, 20))}}" cols="80" aria-label="{{t}} texts, one a line">{{"\n".join(listed)}}</textarea>
  <p><button type="submit" id="texts-save-{{t}}">Save {{t}}</button> <span class="hint">one text a line; saved into texts.yaml and synced (the same rules as <code>igctl content sync</code>)</span></p>
  % end
</form>
% if rows:
<form method="post" action="/content/items" id="text-items-{{t}}">
  <input type="hidden" name="csrf_token" value="{{csrf}}">
  <input type="hidden" name="next" value="{{path}}#texts-{{t}}">
  <table class="items">
  <thead><tr><th>id</th><th>text</th><th>used</th><th></th></tr></thead>
  <tbody>
  % for r in rows:
  <tr class="{{'disabled' if r['disabled'] else ''}}" data-content-id="{{r['content_id']}}"><td>{{r["content_id"]}}</td><td class="msg">{{r["text"]}}</td>
    <td data-figure="used-{{r['content_id']}}">{{r["usage_count"]}}{{" · disabled" if r["disabled"] else ""}}</td>
    <td>
    % if r["disabled"]:
      <button type="submit" name="act" value="enable:{{r['content_id']}}">Enable</button>
    % else:
      <button type="submit" name="act" value="disable:{{r['content_id']}}">Disable</button>
    % end
      <button type="submit" name="act" value="delete:{{r['content_id']}}">Delete</button>
    </td></tr>
  % end
  </tbody></table>
</form>
% end
</section>
% end
