% rebase('layout', title=title)
<section class="panel" id="bot-added">
  <h1>Bot {{bot["name"]}} added</h1>
  <p>id {{bot["id"]}}, {{"no slot limit" if bot["slots"] is None else "%s slots" % bot["slots"]}}.</p>
  <p><strong>Its API token — copy it to the bot PC now:</strong></p>
  <p><code id="bot-token" class="secret">{{bot["token"]}}</code></p>
  <p class="warn" id="token-once">This token is shown this once only and cannot be shown again: only a hash of it is stored.
  If it is lost, revoke the bot and add a new one under another name.</p>
  <p><a href="/bots/{{bot['id']}}">Go to the bot's page</a> · <a href="/bots">All bots</a></p>
</section>
