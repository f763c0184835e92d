<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{title}} · igctl</title>
<link rel="stylesheet" href="/static/style.css">
<script src="/static/dashboard.js" defer></script>
</head>
<body>
<header class="top">
  <a class="brand" href="/">igctl</a>
  % if operator:
  <nav>
    % for key, href, label in [("models", "/", "Models"), ("accounts", "/accounts", "Accounts"), ("proxies", "/proxies", "Proxies"), ("bots", "/bots", "Bots"), ("content", "/content", "Content"), ("review", "/review", "Review"), ("report", "/report", "Report"), ("import", "/import", "Import")]:
    <a href="{{href}}" class="{{'on' if nav == key else ''}}">{{label}}</a>
    % end
  </nav>
  <form method="post" action="/logout" class="logout">
    <input type="hidden" name="csrf_token" value="{{csrf}}">
    <span class="who">{{operator}}</span> <button type="submit" id="logout">Log out</button>
  </form>
  % end
</header>
<main>
% if flash:
<p class="flash" role="status" id="flash">{{flash}}</p>
% end
{{!base}}
</main>
<footer>igctl {{version}} · times in {{tz}}</footer>
</body>
</html>
