% rebase('layout', title=title)
<section class="panel error-page" id="revoke-confirm">
  <h1>Revoke bot {{b["name"]}}?</h1>
  % if b["revoked"]:
  <p class="message">Bot {{b["name"]}} was revoked {{show(b["revoked_at"])}}.</p>
  <p><a href="/bots/{{b['id']}}">Back to the bot</a></p>
  % else:
  <p class="message">Its token stops working at once. The {{b["claimed_tasks"]}} task(s) it holds go back to the queue
  (the attempt is not counted), and its {{b["bound_accounts"]}} account(s) are unbound: the next bot that claims one of
  their tasks binds them. The name stays taken.</p>
  <form method="post" action="/bots/{{b['id']}}/revoke" class="inline">
    <input type="hidden" name="csrf_token" value="{{csrf}}">
    <button type="submit" class="danger" id="revoke-button">Revoke {{b["name"]}}</button>
    <a href="/bots/{{b['id']}}">Cancel</a>
  </form>
  % end
</section>
