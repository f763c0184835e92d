% # A sortable column header. Arguments: lr, base, col (the sort key), label.
% on = lr.sort == col
% nxt = "asc" if on and lr.descending else ("desc" if on else "asc")
<th aria-sort="{{('descending' if lr.descending else 'ascending') if on else 'none'}}"><a href="{{url(base, lr.query(sort=col, dir=nxt, page=None))}}" class="sort{{' on' if on else ''}}">{{label}}{{(' ▼' if lr.descending else ' ▲') if on else ''}}</a></th>
