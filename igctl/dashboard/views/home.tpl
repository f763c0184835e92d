% rebase('layout', title=title)
<h1>Models <small><a href="/models/new" id="new-model-link">New model</a></small></h1>
% if not models:
<p class="empty">No models yet: <a href="/models/new" id="create-first-model">create one</a> (a name and a display name; its strategy next).</p>
% end
% warnings = [(name, n) for name, notes in short.items() for n in notes]
% if warnings:
<ul class="warnings" id="content-warnings">
  % for name, n in warnings:
  <li class="warn"><a href="/content/{{n['pool']}}">{{n["message"]}}</a></li>
  % end
</ul>
% end
<div class="cards" id="model-cards">
% for m in models:
<a class="card model" href="/models/{{m['id']}}/accounts" data-model-id="{{m['id']}}" id="model-{{m['id']}}">
  <h2>{{m["display_name"]}}</h2>
  <p class="sub">{{m["name"]}}</p>
  <dl>
    <dt>active</dt><dd data-figure="model-{{m['id']}}-active">{{m["active"]}}</dd>
    <dt>onboarding</dt><dd data-figure="model-{{m['id']}}-onboarding">{{m["onboarding"]}}</dd>
    <dt>in cleanup</dt><dd data-figure="model-{{m['id']}}-cleanup">{{m["cleanup"]}}</dd>
    <dt>in review</dt><dd data-figure="model-{{m['id']}}-human_review">{{m["human_review"]}}</dd>
    <dt>tasks done 7d</dt><dd data-figure="model-{{m['id']}}-tasks_done_7d">{{m["tasks_done_7d"]}}</dd>
    <dt>tasks failed 7d</dt><dd data-figure="model-{{m['id']}}-tasks_failed_7d">{{m["tasks_failed_7d"]}}</dd>
    <dt>followers</dt><dd data-figure="model-{{m['id']}}-followers_total">{{"–" if m["followers_total"] is None else m["followers_total"]}}</dd>
    <dt>growth 7d</dt><dd data-figure="model-{{m['id']}}-followers_change_7d">{{"–" if m["followers_change_7d"] is None else ("%+d" % m["followers_change_7d"])}}</dd>
    <dt>content</dt><dd>{{m["content_images"]}} images, {{m["content_texts"]}} texts</dd>
  </dl>
  % if short.get(m["name"]):
  <p class="warn">content needs attention (see above)</p>
  % end
</a>
% end
</div>

<h1>Fleet</h1>
<div class="cards fleet">
  <a class="card" href="/accounts">
    <h2>Accounts <span data-figure="fleet-accounts">{{fleet["accounts"]}}</span></h2>
    <dl>
    % for state, n in fleet["accounts_by_state"].items():
      <dt>{{state}}</dt><dd data-figure="state-{{state}}">{{n}}</dd>
    % end
    </dl>
  </a>
  <a class="card" href="/proxies">
    <h2>Proxies <span data-figure="fleet-proxies">{{fleet["proxies"]["total"]}}</span></h2>
    <dl>
      <dt>with room</dt><dd data-figure="fleet-proxies-with-room">{{fleet["proxies_with_room"]}}</dd>
      <dt>free slots</dt><dd data-figure="fleet-free-slots">{{fleet["proxies"]["free_slots"]}}</dd>
      <dt>in use</dt><dd data-figure="fleet-proxies-in-use">{{fleet["proxies"]["in_use"]}}</dd>
      <dt>utilisation</dt><dd>{{"–" if fleet["proxies"]["utilization"] is None else "%.0f%%" % (fleet["proxies"]["utilization"] * 100)}}</dd>
    </dl>
  </a>
  <a class="card" href="/bots">
    <h2>Bots <span>{{fleet["bots"]}}</span></h2>
    <dl><dt>online</dt><dd data-figure="fleet-bots-online">{{fleet["bots_online"]}}</dd></dl>
  </a>
</div>
