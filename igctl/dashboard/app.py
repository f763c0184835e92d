"""`create_app(ws)` builds the operator's dashboard (product.md §10): server-rendered HTML over
the same engine functions the CLI calls. Every route reads its input, calls one engine function
(reads: the same ones as the matching `--json` command) and renders a template; every rule is in
the engine.

Plugins, outermost first: error pages → login (a session cookie) → CSRF (every POST) → the
route, installed in that order.
Templates are Bottle's SimpleTemplate (views/*.tpl): no extra dependency, auto-escaping of
`{{ }}`, and the pages need nothing more than loops and a layout.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import shutil
import tempfile
import time
import traceback
from pathlib import Path
from urllib.parse import quote, unquote, urlencode, urlsplit

from bottle import Bottle, HTTPResponse, SimpleTemplate, redirect, request, response, static_file

from igctl import __version__
from igctl.engine.domain import accounts, bots, operators, plan, proxies
from igctl.engine.flows import models, review
from igctl.engine.store.changes import Command, operator_change
from igctl.engine.store.clock import show as show_time
from igctl.engine.store.errors import IgctlError, InvalidInput, Unauthorized
from igctl.engine.store.migrations import STATES
from igctl.engine.store.timeparse import operator_instant
from igctl.engine.views import attention, dashboard, reports
from igctl.engine.views import models as model_views

log = logging.getLogger("igctl.dashboard")
access_log = logging.getLogger("igctl.dashboard.access")

HERE = Path(__file__).resolve().parent
VIEWS = HERE / "views"
STATIC = HERE / "static"
SESSION_COOKIE = "igctl_session"
LOGIN_COOKIE = "igctl_login"
FLASH_COOKIE = "igctl_flash"
OPEN_PATHS = ("/login", "/static/", "/health")
LOGIN_FAILURES_ALLOWED = 10
LOGIN_WINDOW_SECONDS = 60.0
PAGE_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "frame-src 'self'; frame-ancestors 'self'; form-action 'self'; base-uri 'none'"
)
# The HTML report is self-contained: its chart library and data are inline.
REPORT_CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"
)


class LoginThrottle:
    """At most `allowed` wrong passwords per address within `window` seconds, then 429. Real
    (monotonic) time, not the workspace clock, as the bot API's throttle."""

    def __init__(
        self, allowed: int = LOGIN_FAILURES_ALLOWED, window: float = LOGIN_WINDOW_SECONDS, clock=time.monotonic
    ):
        self.allowed, self.window, self.clock = allowed, window, clock
        self._failures: dict[str, list[float]] = {}

    def blocked(self, address: str) -> bool:
        cutoff = self.clock() - self.window
        recent = [t for t in self._failures.get(address, []) if t > cutoff]
        if recent:
            self._failures[address] = recent
        else:
            self._failures.pop(address, None)
        return len(recent) >= self.allowed

    def failed(self, address: str) -> None:
        self._failures.setdefault(address, []).append(self.clock())


def local_path(target: str | None, default: str = "/") -> str:
    """A redirect target from a form: only a path on this site (never `//host` or a URL)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target or "\n" in target:
        return default
    return target


def _int(value: str | None, label: str) -> int | None:
    """A form field as a whole number (None when empty), as click's `type=int` reads an option:
    which numbers are allowed is the engine's rule, so its refusal is what the operator sees."""
    if value is None or value.strip() == "":
        return None
    text = value.strip()
    digits = text[1:] if text[:1] in "+-" else text
    if not digits.isascii() or not digits.isdigit() or len(digits) > 18:
        raise InvalidInput(f"{label} must be a whole number")
    return int(text)


def create_app(ws, *, secure_cookies: bool = False, throttle: LoginThrottle | None = None) -> Bottle:
    """The dashboard over workspace `ws`. `secure_cookies`: mark cookies Secure (behind a TLS
    reverse proxy, docs/dashboard.md)."""
    app = Bottle(catchall=True)
    app.config["igctl.workspace"] = ws
    throttle = throttle or LoginThrottle()
    templates: dict[str, SimpleTemplate] = {}
    # import.max_file_mb in the engine's unit (MB means MiB, domain/accounts.py, proxies.py): the
    # upload is cut off there so a huge one never fills the disk; the same limit as `import`'s
    max_upload = int(ws.config.import_.max_file_mb * 1024 * 1024)

    def render(name: str, status: int = 200, **values) -> str:
        tpl = templates.get(name)
        if tpl is None:
            tpl = templates[name] = SimpleTemplate(name=name, lookup=[str(VIEWS)])
        sess = request.environ.get("igctl.session")
        response.status = status
        response.content_type = "text/html; charset=utf-8"
        base = {
            "session": sess,
            "operator": sess["operator"] if sess else None,
            "csrf": sess["csrf"] if sess else "",
            "flash": request.environ.get("igctl.flash"),
            "path": request.path,
            "show": lambda v: show_time(v, ws.tz),
            "tz": str(ws.tz),
            "version": __version__,
            "q": quote,
            "nav": values.pop("nav", None),
        }
        return tpl.render(**base, **values)

    def actor() -> str:
        return operators.operator_actor(request.environ["igctl.session"]["operator"])

    def change(name: str, **details):
        """This action's change (engine/store/changes.py): one transaction that starts with its
        `command` event (via "dashboard", the operator as actor) and holds the engine call."""
        return operator_change(ws, Command(name, actor(), "dashboard", details=details))

    def address() -> str:
        return request.environ.get("REMOTE_ADDR") or "-"

    def cookie(name: str, value: str, max_age: int | None = None) -> None:
        response.set_cookie(
            name, value, path="/", httponly=True, samesite="lax", secure=secure_cookies, max_age=max_age
        )

    def done(message: str, target: str) -> None:
        """After a change: a message for the next page, and a redirect to it (POST → GET)."""
        cookie(FLASH_COOKIE, quote(message[:1500]), max_age=60)
        redirect(local_path(target), 303)

    def forms():
        return request.forms.decode()

    def _back() -> str:
        """Where an error page's "back" link goes: the page the form was on (same site only)."""
        ref = urlsplit(request.headers.get("Referer") or "")
        if ref.netloc and ref.netloc != request.urlparts.netloc:
            return "/"
        return local_path(
            ref.path + ("?" + ref.query if ref.query else ""), request.path if request.method == "GET" else "/"
        )

    # -- hooks: headers and an access line for every request ----------------------------------
    @app.hook("before_request")
    def _before():
        request.environ["igctl.started"] = time.perf_counter()
        flash = request.get_cookie(FLASH_COOKIE)
        if flash:
            request.environ["igctl.flash"] = unquote(flash)

    @app.hook("after_request")
    def _after():
        response.set_header("X-Content-Type-Options", "nosniff")
        response.set_header("Referrer-Policy", "same-origin")
        if not request.path.startswith("/static/"):
            response.set_header("Cache-Control", "no-store")
            response.set_header("X-Frame-Options", "SAMEORIGIN")
            if "Content-Security-Policy" not in response.headers:
                response.set_header("Content-Security-Policy", PAGE_CSP)
        if request.environ.get("igctl.flash") and request.method == "GET" and "Set-Cookie" not in response.headers:
            response.delete_cookie(FLASH_COOKIE, path="/")
        sess = request.environ.get("igctl.session")
        access_log.info(
            "%s %s %s %.1fms operator=%s",
            request.method,
            request.path,
            response.status_code,
            (time.perf_counter() - request.environ.get("igctl.started", time.perf_counter())) * 1000,
            sess["operator"] if sess else "-",
        )

    # -- plugins ------------------------------------------------------------------------------
    def error_pages(callback):
        def wrapper(*args, **kwargs):
            try:
                return callback(*args, **kwargs)
            except HTTPResponse:
                raise
            except IgctlError as exc:
                return render("error", status=exc.http_status, title="Not done", message=exc.message, back=_back())
            except Exception:  # a bug: logged with its traceback, never shown to the browser
                log.error("unhandled error on %s %s\n%s", request.method, request.path, traceback.format_exc())
                return render(
                    "error",
                    status=500,
                    title="Internal error",
                    message="Something went wrong on the server; the error is in its log.",
                    back="/",
                )

        return wrapper

    def login_required(callback):
        def wrapper(*args, **kwargs):
            if request.path.startswith(OPEN_PATHS):
                return callback(*args, **kwargs)
            token = request.get_cookie(SESSION_COOKIE)
            sess = operators.session(ws, token)
            if sess is None:
                if request.method == "GET":
                    query = {"next": request.fullpath + (("?" + request.query_string) if request.query_string else "")}
                    if token:
                        query["expired"] = "1"
                    redirect("/login?" + urlencode(query), 303)
                return render(
                    "error",
                    status=401,
                    title="Session expired",
                    message="Your session has expired or you are not logged in. Nothing was changed: "
                    "log in again and repeat the action.",
                    back="/login",
                )
            request.environ["igctl.session"] = sess
            return callback(*args, **kwargs)

        return wrapper

    def csrf_protect(callback):
        def wrapper(*args, **kwargs):
            if request.method == "POST" and request.path != "/login":
                sess = request.environ.get("igctl.session")
                if sess is None or not operators.check_csrf(sess, request.forms.get("csrf_token")):
                    return render(
                        "error",
                        status=403,
                        title="Form refused",
                        message="This form had no valid CSRF token (it was old, or sent from another site). "
                        "Nothing was changed: reload the page and try again.",
                        back=request.path,
                    )
            return callback(*args, **kwargs)

        return wrapper

    # Bottle wraps the route in the plugins from the last installed (innermost) to the first.
    app.install(error_pages)
    app.install(login_required)
    app.install(csrf_protect)

    def default_error(err) -> str:
        messages = {404: "There is no such page.", 405: "This page does not take that method."}
        return render(
            "error",
            status=err.status_code,
            title=err.status_line,
            message=messages.get(err.status_code, "Something went wrong on the server; the error is in its log."),
            back="/",
        )

    app.default_error_handler = default_error

    # -- open routes ---------------------------------------------------------------------------
    @app.get("/health")
    def health():
        return {"status": "ok", "version": __version__}

    @app.get("/static/<name:path>")
    def static(name):
        return static_file(name, root=str(STATIC))

    @app.get("/login")
    def login_page():
        token = secrets.token_urlsafe(24)
        cookie(LOGIN_COOKIE, token, max_age=3600)
        note = None
        if request.query.get("expired"):
            note = "Your session has expired: log in again."
        elif request.query.get("out"):
            note = "You are logged out."
        return render(
            "login",
            title="Log in",
            login_token=token,
            next=local_path(request.query.getunicode("next")),
            note=note,
            error=None,
            has_password=operators.has_password(ws),
        )

    @app.post("/login")
    def login_post():
        f = forms()
        expected = request.get_cookie(LOGIN_COOKIE) or ""
        given = f.get("login_token") or ""
        target = local_path(f.get("next"))
        if not expected or not hmac.compare_digest(expected.encode(), given.encode()):
            return render(
                "error",
                status=403,
                title="Form refused",
                message="The login form had no valid token (it was old, or sent from another site). "
                "Nothing was changed: open the login page again.",
                back="/login",
            )
        if throttle.blocked(address()):
            response.set_header("Retry-After", str(int(LOGIN_WINDOW_SECONDS)))
            return render(
                "error",
                status=429,
                title="Too many attempts",
                message="Too many wrong passwords from this address: wait a minute and try again.",
                back="/login",
            )
        try:
            opened = operators.login(ws, f.get("password") or "", operator=f.get("operator"), address=address())
        except Unauthorized as exc:
            throttle.failed(address())
            token = secrets.token_urlsafe(24)
            cookie(LOGIN_COOKIE, token, max_age=3600)
            return render(
                "login",
                status=401,
                title="Log in",
                login_token=token,
                next=target,
                note=None,
                error=f"{exc.message.capitalize()}. Nothing was changed.",
                has_password=operators.has_password(ws),
            )
        cookie(SESSION_COOKIE, opened["token"], max_age=operators.SESSION_HOURS * 3600)
        response.delete_cookie(LOGIN_COOKIE, path="/")
        redirect(target, 303)

    @app.post("/logout")
    def logout():
        operators.logout(ws, request.get_cookie(SESSION_COOKIE))
        response.delete_cookie(SESSION_COOKIE, path="/")
        redirect("/login?out=1", 303)

    # -- models ---------------------------------------------------------------------------------
    @app.get("/")
    def home():
        return render(
            "home",
            title="Models",
            nav="models",
            models=model_views.list_models(ws),
            fleet=dashboard.fleet(ws),
            short=dashboard.content_short(ws),
        )

    @app.get("/models/<model_id:int>/accounts")
    def model_accounts(model_id):
        row = dashboard.model_by_id(ws, model_id)
        q = request.query.decode()
        view = q.get("view") or "overview"
        filters = {
            "location": (q.get("location") or "").strip() or None,
            "max_retries": _int(q.get("max_retries"), "max retries"),
            "min_followers": _int(q.get("min_followers"), "min followers"),
        }
        if view != "available":
            filters = {"location": None, "max_retries": None, "min_followers": None}
        summary, data = model_views.show(ws, row["name"], view, **filters)
        extra = {}
        if view == "proxies":
            extra["ready_or_unplaced"] = [a["username"] for a in accounts.list_accounts(ws, state="imported")]
        return render(
            "model",
            title=summary["display_name"],
            nav="models",
            summary=summary,
            view=view,
            data=data,
            views=model_views.VIEWS,
            filters=filters,
            **extra,
        )

    @app.post("/models/<model_id:int>/assign")
    def model_assign(model_id):
        row = dashboard.model_by_id(ws, model_id)
        f = forms()
        usernames = [u for u in f.getall("usernames") if u.strip()]
        count = _int(f.get("count"), "count")
        with change("model assign", model=row["name"], usernames=usernames or None, count=count) as c:
            result = models.assign(ws, row["name"], usernames=usernames or None, count=count, actor=actor())
            c.note(assigned=len(result["assigned"]))
        parts = [
            f"{len(result['assigned'])} account(s) assigned to {result['model']}"
            + (": " + ", ".join(result["assigned"]) if result["assigned"] else ".")
        ]
        parts += [f"skipped {s['username']}: {s['reason']}" for s in result["skipped"]]
        done("; ".join(parts), f"/models/{model_id}/accounts?view=overview")

    # -- accounts -----------------------------------------------------------------------------------
    @app.get("/accounts")
    def accounts_list():
        state = request.query.get("state") or None
        return render(
            "accounts",
            title="Accounts",
            nav="accounts",
            rows=accounts.list_accounts(ws, state=state),
            state=state,
            states=STATES,
        )

    @app.get("/accounts/<username>")
    def account_page(username):
        data = accounts.show_account(ws, username, actor=actor())
        plan_data = None
        if data["lifecycle_state"] in ("warming_up", "human_review") and data["warmup_completed_at"] is None:
            try:
                plan_data = plan.account_plan(ws, data["username"])
            except IgctlError:
                plan_data = None
        bot_names = [b["name"] for b in bots.list_bots(ws) if not b["revoked"]]
        return render("account", title=data["username"], nav="accounts", a=data, plan=plan_data, bots=bot_names)

    @app.get("/accounts/<username>/screenshots/<step_id:int>")
    def account_screenshot(username, step_id):
        path = dashboard.screenshot_file(ws, username, step_id)
        return static_file(path.name, root=str(path.parent))

    @app.post("/accounts/<username>/retire")
    def account_retire(username):
        reason = (forms().get("reason") or "").strip()
        with change("accounts retire", usernames=[username], reason=reason):
            retired = accounts.retire(ws, [username], reason=reason, actor=actor())
        done(f"{retired[0]['username']} retired (was {retired[0]['old_state']}).", f"/accounts/{quote(username)}")

    @app.post("/accounts/<username>/move")
    def account_move(username):
        bot = (forms().get("bot") or "").strip()
        if not bot:
            raise InvalidInput("choose a bot to move the account to")
        with change("accounts move", username=username, bot=bot):
            moved = bots.move_account(ws, username, bot, actor=actor())
        text = (
            f"{moved['username']} moved to bot {moved['bot']} slot {moved['slot']}."
            if moved["changed"]
            else f"{moved['username']} is already on bot {moved['bot']}."
        )
        done(text, f"/accounts/{quote(username)}")

    # -- review ---------------------------------------------------------------------------------------
    @app.get("/review")
    def review_page():
        return render("review", title="Needs attention", nav="review", items=attention.attention(ws))

    def _review_names(f) -> list[str]:
        return [u for u in f.getall("usernames") if u.strip()]

    @app.post("/review/retry")
    def review_retry():
        f = forms()
        names = _review_names(f)
        with change("review retry") as c:
            result = review.retry(ws, names, actor=actor())
            c.note(usernames=[d["username"] for d in result])
        done(
            "Queued again, due now: " + ", ".join(f"{d['username']} ({d['step_name']})" for d in result) + ".",
            f.get("next") or "/review",
        )

    @app.post("/review/resolve")
    def review_resolve():
        f = forms()
        names = _review_names(f)
        note = (f.get("note") or "").strip()
        with change("review resolve", note=note) as c:
            result = review.resolve(ws, names, note=note, actor=actor())
            c.note(usernames=[d["username"] for d in result])
        done(
            "Recorded as done by hand: "
            + ", ".join(f"{d['username']} ({d['step_name']}) → {d['account_state']}" for d in result)
            + ".",
            f.get("next") or "/review",
        )

    # -- proxies and bots -----------------------------------------------------------------------------
    @app.get("/proxies")
    def proxies_page():
        return render(
            "proxies",
            title="Proxies",
            nav="proxies",
            rows=proxies.list_proxies(ws),
            statuses=proxies.STATUSES,
            unplaced=[a["username"] for a in accounts.list_accounts(ws, state="imported")],
        )

    @app.post("/proxies/<proxy_id:int>/status")
    def proxy_status(proxy_id):
        f = forms()
        status = (f.get("status") or "").strip()
        with change("proxy set-status", proxy_id=proxy_id, status=status):
            result = proxies.set_status(
                ws, proxy_id, status, actor=actor(), cause=(f.get("reason") or "").strip() or None, acknowledge=True
            )
        text = (
            f"Proxy {proxy_id}: {result['old_status']} → {status}."
            if result["changed"]
            else f"Proxy {proxy_id} is already {status}."
        )
        done(text, f.get("next") or "/proxies")

    @app.post("/proxies/assign")
    def proxy_assign():
        f = forms()
        username = (f.get("username") or "").strip()
        if not username:
            raise InvalidInput("give the account to put on a proxy")
        proxy_id = _int(f.get("proxy_id"), "proxy id")
        with change("proxy assign", username=username, proxy_id=proxy_id):
            result = proxies.assign(ws, username, proxy_id, actor=actor())
        done(
            f"{result['username']} is on proxy {result['proxy_id']}; state {result['lifecycle_state']}.",
            f.get("next") or "/proxies",
        )

    @app.post("/proxies/auto-assign")
    def proxy_auto_assign():
        f = forms()
        with change("proxy auto-assign"):
            result = proxies.auto_assign(ws, actor=actor())
        done(
            f"{result['assigned']} account(s) got a proxy; {result['left_without_proxy']} left without one.",
            f.get("next") or "/proxies",
        )

    @app.get("/bots")
    def bots_page():
        return render("bots", title="Bots", nav="bots", rows=bots.list_bots(ws))

    # -- report ----------------------------------------------------------------------------------------
    def _report_args() -> dict:
        q = request.query.decode()
        model = (q.get("model") or "").strip() or None
        since = (q.get("since") or "").strip() or None
        until = (q.get("until") or "").strip() or None
        return {
            "model": model,
            "since": operator_instant(since, ws.tz) if since else None,
            "until": operator_instant(until, ws.tz) if until else None,
            "_given": {"model": model or "", "since": since or "", "until": until or ""},
        }

    @app.get("/report")
    def report_page():
        args = _report_args()
        given = args.pop("_given")
        data = reports.build_report(ws, daily=False, **args)
        return render(
            "report",
            title="Report",
            nav="report",
            r=data,
            given=given,
            charts="/report/charts?" + urlencode({k: v for k, v in given.items() if v}),
            model_names=[m["name"] for m in model_views.list_models(ws)],
        )

    @app.get("/report/charts")
    def report_charts():
        from igctl import report_html

        args = _report_args()
        args.pop("_given")
        data = reports.build_report(ws, daily=True, **args)
        response.set_header("Content-Security-Policy", REPORT_CSP)
        response.content_type = "text/html; charset=utf-8"
        return report_html.render(data, title="igctl report" + (f" — model {args['model']}" if args["model"] else ""))

    # -- import --------------------------------------------------------------------------------------
    @app.get("/import")
    def import_page():
        return render("import", title="Import", nav="import", result=None, kind="accounts")

    @app.post("/import")
    def import_post():
        f = forms()
        kind = f.get("kind") or "accounts"
        if kind not in ("accounts", "proxies"):
            raise InvalidInput("choose what the file holds: accounts or proxies")
        upload = request.files.get("file")
        if upload is None or not getattr(upload, "raw_filename", None):
            raise InvalidInput("choose a file to upload")
        # The file holds passwords in plain text: it goes to a private folder outside the
        # workspace and is deleted as soon as it is imported.
        folder = Path(tempfile.mkdtemp(prefix="igctl-upload-"))
        try:
            path = folder / (upload.filename or "upload.txt")
            written = 0
            with open(path, "wb") as out:
                while chunk := upload.file.read(1 << 20):
                    written += len(chunk)
                    if written > max_upload:
                        raise InvalidInput(
                            f"{upload.filename} is over the limit of {ws.config.import_.max_file_mb:g} MB (import.max_file_mb)"
                        )
                    out.write(chunk)
            if kind == "accounts":
                assign = not f.get("no_assign")
                with change("accounts import", file=upload.filename, assign=assign):
                    result = accounts.import_file(ws, path, assign=assign, actor=actor())
            else:
                cost = (f.get("cost") or "").strip()
                try:
                    cost_value = float(cost) if cost else None
                except ValueError:
                    raise InvalidInput("the monthly cost must be a number") from None
                with change("proxy import", file=upload.filename):
                    result = proxies.import_file(
                        ws,
                        path,
                        provider=(f.get("provider") or "").strip() or None,
                        location=(f.get("location") or "").strip() or None,
                        cost=cost_value,
                        actor=actor(),
                    )
            result["file"] = upload.filename
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return render("import", title="Import", nav="import", result=result, kind=kind)

    return app
