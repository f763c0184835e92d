% # One list's pager: the total, the rows shown, page links, page sizes and (with csv) the CSV link.
% # Arguments: pg (listing.page_of's result), lr (the ListRequest), base (the list's path), csv (a path or None).
% csv = get('csv', None)
<nav class="pager" aria-label="pages">
  <span class="total"><strong data-figure="list-total">{{pg["total"]}}</strong> matching</span>
  % if pg["rows"]:
  <span class="range">· rows {{pg["first_row"]}}–{{pg["last_row"]}}</span>
  % end
  <span class="pos">· page {{pg["page"]}} of {{pg["pages"]}}</span>
  % if pg["page"] > 1:
  <a href="{{url(base, lr.query(page=1))}}" rel="first" class="page-first">« first</a>
  <a href="{{url(base, lr.query(page=min(pg['page'] - 1, pg['pages'])))}}" rel="prev" class="page-prev">‹ previous</a>
  % end
  % if pg["page"] < pg["pages"]:
  <a href="{{url(base, lr.query(page=pg['page'] + 1))}}" rel="next" class="page-next">next ›</a>
  <a href="{{url(base, lr.query(page=pg['pages']))}}" rel="last" class="page-last">last »</a>
  % end
  <span class="sizes">· per page
  % for n in page_sizes:
    % if n == pg["per_page"]:
    <strong>{{n}}</strong>
    % else:
    <a href="{{url(base, lr.query(per_page=n, page=None))}}">{{n}}</a>
    % end
  % end
  </span>
  % if csv:
  · <a href="{{url(csv, lr.query(page=None, per_page=None))}}" class="csv-link" download>CSV of all {{pg["total"]}}</a>
  % end
</nav>
