% rebase('layout', title=title)
<h1>Console · bot <a href="/bots/{{b['id']}}">{{b["name"]}}</a></h1>
<p class="sub">Step through this bot's protocol as its phone would: claim its next task, see exactly what the bot API
hands out, then report it completed or failed. The same engine calls as the API, so the account moves exactly as for a
phone; the events name you ({{operator}}) as the actor.</p>
% if b["revoked"]:
<section class="panel" id="console-revoked">
  <p class="message bad">Bot {{b["name"]}} is revoked ({{show(b["revoked_at"])}}): its console takes no action.</p>
</section>
% else:
<section class="panel" id="claim">
  <h2>Claim</h2>
  <form method="post" action="/bots/{{b['id']}}/console/claim" class="inline">
    <input type="hidden" name="csrf_token" value="{{csrf}}">
    <input type="hidden" name="claim_key" value="{{claim_key}}">
    <button type="submit" id="claim-button">Claim next task</button>
  </form>
  % if b["held"]:
  <form method="post" action="/bots/{{b['id']}}/console/heartbeat" class="inline">
    <input type="hidden" name="csrf_token" value="{{csrf}}">
    <button type="submit" id="heartbeat-button">Keep the leases of the tasks it holds</button>
  </form>
  % end
  <p class="hint">= <code>GET /api/bot/next-task/{{b['id']}}</code> with an <code>Idempotency-Key</code> new for each
  click: sending the same form twice gets the same task back. Slots: {{"no limit" if b["slots"] is None else "%s (%s free)" % (b["slots"], b["free_slots"])}}.</p>
</section>
% end
<section class="panel">
  <h2>Tasks this bot holds now <small>{{len(b["held"])}}</small></h2>
  % include('_held', b=b)
</section>
