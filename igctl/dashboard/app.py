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
import time
import traceback
from pathlib import Path
from urllib.parse import quote, unquote, urlencode, urlsplit

from bottle import Bottle, HTTPResponse, SimpleTemplate, redirect, request, response, static_file

from igctl import __version__
from igctl.dashboard import pages
from igctl.dashboard.face import Face, local_path
from igctl.engine.domain import operators
from igctl.engine.store.changes import Command, operator_change
from igctl.engine.store.clock import show as show_time
from igctl.engine.store.errors import IgctlError, Unauthorized
from igctl.engine.views.listing import PAGE_SIZES

log = logging.getLogger("igctl.dashboard")
access_log = logging.getLogger("igctl.dashboard.access")

HERE = Path(__file__).resolve().parent
VIEWS = HERE / "views"
STATIC = HERE / "static"
SESSION_COOKIE = "igctl_session"
LOGIN_COOKIE = "igctl_login"
FLASH_COOKIE = "igctl_flash"
OPEN_PATHS = ("/login", "/static/", "/health")
# the page modules, each adding its routes (pages/*.py)
PAGES = (
    pages.models,
    pages.accounts,
    pages.review,
    pages.proxies,
    pages.bots,
    pages.console,
    pages.content,
    pages.report,
    pages.imports,
)
LOGIN_FAILURES_ALLOWED = 10
LOGIN_WINDOW_SECONDS = 60.0
PAGE_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "frame-src 'self'; frame-ancestors 'self'; form-action 'self'; base-uri 'none'"
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
            # a link to `path` with query parameters (a ListRequest's .query()): pagers, sort links
            "url": lambda path, query=None: path + ("?" + urlencode(query) if query else ""),
            "page_sizes": PAGE_SIZES,
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

    face = Face(ws=ws, render=render, change=change, actor=actor, done=done, forms=forms, max_upload=max_upload)
    for module in PAGES:
        module.install(app, face)
    return app
