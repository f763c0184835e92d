"""`create_app(ws)` builds the bot API. Every route decodes HTTP, calls one engine function and
encodes JSON; every rule is in the engine.

Plugins, outermost first: bottle's JSON (dict → JSON) → authentication (for /api/bot/*; it
answers its own 401/429) → JSON errors → known query parameters (for /api/bot/*) → the route.
Bottle applies the last installed plugin innermost, so they are installed in this order. Hooks write one access-log line per request, also for the
requests no route matched (bottle's 404/405 never reach a plugin).
Connections: `ws.db()` is per thread, and the server's worker threads are long-lived, so each
worker keeps one connection of its own; none is ever shared between threads.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import time
import traceback
from collections import OrderedDict, deque
from importlib import resources

from bottle import Bottle, HTTPError, HTTPResponse, request, response

from igctl import __version__
from igctl.engine.domain import botaccess, bots, content, evidence, metrics
from igctl.engine.flows import botwork
from igctl.engine.store.errors import Forbidden, IgctlError, InvalidInput, NotFound, TooLarge, Unauthorized
from igctl.engine.store.writer import Writer

from . import bodies

log = logging.getLogger("igctl.botserver")
access_log = logging.getLogger("igctl.botserver.access")

AUTH_FAILURES_ALLOWED = 20
AUTH_WINDOW_SECONDS = 60.0
MAX_IDEMPOTENCY_KEY = 200
# What a screenshot may be declared as (the bytes decide between PNG and JPEG)
SCREENSHOT_TYPES = ("image/png", "image/jpeg", "image/jpg", "application/octet-stream")


def error_body(status: int, message: str, detail=None) -> str:
    """A JSON error. Used where bottle does no output processing (error handlers, plugins that
    answer before the route), so the content type is set and the JSON dumped here."""
    response.status = status
    response.content_type = "application/json"
    return json.dumps({"error": message, "detail": detail})


class AuthThrottle:
    """After `allowed` failed authentications from one address within `window` seconds, that
    address's requests without a valid token get 429. Valid tokens are never throttled (many
    bots may share one address). Real (monotonic) time, not the workspace clock: IGCTL_NOW
    freezes the business clock, never the defence against guessing."""

    def __init__(self, allowed: int = AUTH_FAILURES_ALLOWED, window: float = AUTH_WINDOW_SECONDS, clock=time.monotonic):
        self.allowed = allowed
        self.window = window
        self.clock = clock
        self._failures: dict[str, deque] = {}
        self._lock = threading.Lock()

    def _recent(self, address: str) -> deque:
        q = self._failures.get(address) or deque()
        cutoff = self.clock() - self.window
        while q and q[0] <= cutoff:
            q.popleft()
        return q

    def retry_after(self, address: str) -> int | None:
        """Seconds until the address may try again, or None when it is not throttled."""
        with self._lock:
            q = self._recent(address)
            if not q:
                self._failures.pop(address, None)  # forget quiet addresses: memory stays bounded
            if len(q) < self.allowed:
                return None
            return max(1, int(q[0] + self.window - self.clock()) + 1)

    def failed(self, address: str) -> None:
        with self._lock:
            q = self._recent(address)
            q.append(self.clock())
            self._failures[address] = q


def raw_header(name: str) -> str:
    """A request header as the WSGI server passed it (latin-1), never decoded further: bottle's
    `get_header` decodes it as UTF-8 and raises on bytes that are not, which turned a garbled
    header into a 500. The headers we read (a token, ETags) are ASCII when valid, so a
    non-ASCII value simply fails to match."""
    return request.environ.get("HTTP_" + name.upper().replace("-", "_"), "")


def bearer_token() -> str | None:
    header = raw_header("Authorization")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def peer_address() -> str:
    # REMOTE_ADDR, never X-Forwarded-For (bottle's remote_addr prefers that header, which any
    # client can set to dodge the throttle). Behind a reverse proxy REMOTE_ADDR is the proxy's:
    # serve-bots trusts no forwarded header (botserver/serve.py drops them).
    return request.environ.get("REMOTE_ADDR") or "-"


def read_body(max_bytes: int) -> bytes:
    """The raw request body: 413 when it is over `max_bytes`."""
    length = request.content_length
    if length > max_bytes:
        raise TooLarge(f"request body over the limit of {max_bytes} bytes", detail={"max_bytes": max_bytes})
    raw = request.body.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise TooLarge(f"request body over the limit of {max_bytes} bytes", detail={"max_bytes": max_bytes})
    return raw


class NotJson(InvalidInput):
    """A body declared as something other than JSON (HTTP 415 Unsupported Media Type)."""

    http_status = 415


def check_json_type() -> None:
    """A JSON body must come as application/json (or a +json type); a request without a
    Content-Type is read as JSON. A form or text body is refused, never guessed at."""
    declared = request.environ.get("CONTENT_TYPE", "")
    media = declared.split(";", 1)[0].strip().lower()
    if media and media != "application/json" and not media.endswith("+json"):
        raise NotJson(f"the body must be application/json, not {media[:100]}", detail={"content_type": declared[:200]})


def read_json(max_bytes: int, *, optional: bool = False) -> dict:
    """The request body as a JSON object: 413 when too large, 415 when declared as another
    type, 400 when not a JSON object. `optional`: an empty body is `{}`."""
    raw = read_body(max_bytes)
    if optional and not raw.strip():
        return {}
    check_json_type()
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        # ValueError also covers JSONDecodeError and a number of more than 4,300 digits,
        # which Python refuses to convert (int_max_str_digits)
        raise InvalidInput(f"the body is not valid JSON: {str(exc)[:200]}") from None
    except RecursionError:
        raise InvalidInput("the body is not valid JSON: nested too deeply") from None
    if not isinstance(data, dict):
        raise InvalidInput("the body must be a JSON object")
    return data


def path_id(value: int, what: str) -> int:
    """A numeric path segment as an id; out of SQLite's range it names nothing (404)."""
    if not 1 <= value <= bodies.MAX_ID:
        raise NotFound(f"no {what} with id {value}")
    return value


def idempotency_key() -> str | None:
    """The claim's optional Idempotency-Key header: 1 to MAX_IDEMPOTENCY_KEY printable ASCII
    characters (400 otherwise), or None when there is none."""
    key = request.environ.get("HTTP_IDEMPOTENCY_KEY")
    if key is None:
        return None
    if not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY or not all(" " <= c <= "~" for c in key):
        raise InvalidInput(
            f"the Idempotency-Key header must be 1 to {MAX_IDEMPOTENCY_KEY} printable ASCII characters",
            detail={"length": len(key)},
        )
    return key


def openapi_document() -> dict:
    return json.loads(resources.files("igctl.botserver").joinpath("openapi.json").read_text(encoding="utf-8"))


class FileHashes:
    """SHA-256 of image files, remembered by (path, size, mtime): the ETag is the hash of the
    bytes served, so a file changed after `content sync` still gets a true ETag."""

    def __init__(self, size: int = 4096):
        self.size = size
        self._cache: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def of(self, path, data: bytes | None = None) -> str:
        st = path.stat()
        key = (str(path), st.st_size, st.st_mtime_ns)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        digest = hashlib.sha256(data if data is not None else path.read_bytes()).hexdigest()
        with self._lock:
            self._cache[key] = digest
            while len(self._cache) > self.size:
                self._cache.popitem(last=False)
        return digest


def create_app(ws, *, throttle: AuthThrottle | None = None, writer: Writer | None = None) -> Bottle:
    """The bot API over the workspace `ws` (its clock is the app's clock). With a running
    `writer` every write of a bot (claim, complete, fail, heartbeat, metrics, screenshot) goes
    through its group commit (engine/store/writer.py); without one they run in the request's thread."""
    write = writer.call if writer is not None else (lambda fn, *args, **kwargs: fn(*args, **kwargs))
    # catchall stays on as a last net (errors outside routes become our JSON 500 below);
    # routes' own errors never get that far: json_errors answers them.
    app = Bottle(catchall=True)
    app.config["igctl.workspace"] = ws
    throttle = throttle or AuthThrottle()
    max_body = int(ws.config.server.max_body_mb * 1024 * 1024)
    spec = openapi_document()
    hashes = FileHashes()

    # -- access log (hooks: they run for every request, matched or not) -------------------
    @app.hook("before_request")
    def _start_clock():
        request.environ["igctl.started"] = time.perf_counter()

    @app.hook("after_request")
    def _access_line():
        started = request.environ.get("igctl.started", time.perf_counter())
        bot = request.environ.get("igctl.bot")
        access_log.info(
            "%s %s %s %.1fms bot=%s",
            request.method,
            request.path,
            response.status_code,
            (time.perf_counter() - started) * 1000,
            f"{bot['name']}#{bot['id']}" if bot else "-",
        )

    # -- plugins ----------------------------------------------------------------------
    def json_errors(callback):
        def wrapper(*args, **kwargs):
            try:
                return callback(*args, **kwargs)
            except IgctlError as exc:
                return error_body(exc.http_status, exc.message, exc.detail)
            except HTTPResponse:
                raise
            except Exception:  # a bug: log it, never show a traceback to a client
                log.error("unhandled error on %s %s\n%s", request.method, request.path, traceback.format_exc())
                return error_body(500, "internal server error")

        return wrapper

    def authentication(callback):
        def wrapper(*args, **kwargs):
            if not request.path.startswith("/api/bot/"):
                return callback(*args, **kwargs)
            address = peer_address()
            token = bearer_token()
            bot = None
            if token is not None:
                try:
                    bot = bots.authenticate(ws, token)  # read each time: a revocation counts at once
                except Unauthorized:
                    bot = None
            if bot is None:
                wait = throttle.retry_after(address)
                if wait is not None:
                    response.set_header("Retry-After", str(wait))
                    return error_body(429, "too many failed authentications from this address", {"retry_after": wait})
                throttle.failed(address)
                response.set_header("WWW-Authenticate", 'Bearer realm="igctl"')
                return error_body(401, "missing or invalid bot token")
            request.environ["igctl.bot"] = bot
            return callback(*args, **kwargs)

        return wrapper

    class KnownQuery:
        """A bot route refuses query parameters its OpenAPI operation does not declare (a
        misspelt `task_id` is an error, not silently ignored). Innermost: a request without a
        valid token gets its 401 first."""

        api = 2

        def apply(self, callback, route):
            if not route.rule.startswith("/api/bot/"):
                return callback
            operation = (
                spec["paths"].get(re.sub(r"<(\w+)(?::[^>]*)?>", r"{\1}", route.rule), {}).get(route.method.lower(), {})
            )
            allowed = {p["name"] for p in operation.get("parameters", []) if p.get("in") == "query"}

            def wrapper(*args, **kwargs):
                unknown = sorted(set(request.query.keys()) - allowed)
                if unknown:
                    raise InvalidInput(
                        f"unknown query parameter {unknown[0][:100]!r}"
                        + (
                            f" (this route takes {', '.join(sorted(allowed))})"
                            if allowed
                            else " (this route takes none)"
                        ),
                        detail={"unknown": [name[:100] for name in unknown[:20]]},
                    )
                return callback(*args, **kwargs)

            return wrapper

    # outermost first: bottle applies the last installed innermost (see the module docstring)
    app.install(authentication)
    app.install(json_errors)
    app.install(KnownQuery())

    def default_error(err: HTTPError) -> str:
        # Bottle's own errors (no route, wrong method, the catchall's 500): JSON, never its
        # HTML page, never a traceback.
        messages = {404: "no such endpoint", 405: "method not allowed for this path", 500: "internal server error"}
        return error_body(err.status_code, messages.get(err.status_code, err.status_line))

    app.default_error_handler = default_error

    def the_bot():
        return request.environ["igctl.bot"]

    def own_bot(bot_id: int) -> int:
        """A path or body bot_id must be the token's own bot."""
        bot = the_bot()
        if bot_id != bot["id"]:
            raise Forbidden(
                f"this token belongs to bot {bot['name']} (id {bot['id']}), not to bot {bot_id}",
                detail={"bot_id": bot_id},
            )
        return bot_id

    # -- open routes -------------------------------------------------------------------
    @app.get("/api/health")
    def health():
        try:
            ws.db().scalar("SELECT 1")
            database = "ok"
        except Exception as exc:  # reported, not raised: health must answer
            database = f"error: {exc}"
        degraded = database != "ok" or (writer is not None and writer.degraded)
        return {
            "status": "degraded" if degraded else "ok",
            "version": __version__,
            "database": database,
            "server_time": ws.now(),
            "write": writer.status() if writer is not None else {"mode": "request threads", "processes": 1},
        }

    @app.get("/api/openapi.json")
    def openapi():
        return spec

    # -- bot routes --------------------------------------------------------------------
    @app.get("/api/bot/me")
    def me():
        bot = the_bot()
        return {"bot_id": bot["id"], "name": bot["name"], "slots": bot["slots"], "server_time": ws.now()}

    @app.get("/api/bot/next-task/<bot_id:int>")
    def next_task(bot_id):
        if request.method == "HEAD":  # bottle serves HEAD with the GET route; a HEAD must not claim
            response.set_header("Allow", "GET")
            return error_body(405, "HEAD is not allowed here: GET hands out a task")
        bot_id = own_bot(bot_id)
        task = write(botwork.claim_next, ws, bot_id, idempotency_key=idempotency_key())
        if task is None:
            response.status = 204
            return ""
        task["content"] = botaccess.api_content(task["content"] or {})
        return task

    @app.get("/api/bot/account/<id:int>/content")
    def account_content(id):  # noqa: A002 - the path parameter's documented name
        account_id = path_id(id, "account")
        raw = request.query.get("task_id")
        if raw is None or raw == "":
            raise InvalidInput("the query parameter task_id is required", detail={"task_id": None})
        if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= bodies.MAX_ID:
            raise InvalidInput("task_id must be a task id (a whole number of at least 1)", detail={"task_id": raw})
        chosen = botaccess.task_content(ws, the_bot()["id"], account_id, int(raw))
        return {"task_id": int(raw), "account_id": account_id, **botaccess.api_content(chosen)}

    @app.post("/api/bot/step-complete")
    def step_complete():
        body = bodies.parse(bodies.StepComplete, read_json(max_body))
        return write(
            botwork.complete,
            ws,
            body.task_id,
            own_bot(body.bot_id),
            execution_time_ms=body.execution_time_ms,
            content_used=body.content_used,
            instagram_response=body.instagram_response,
        )

    @app.post("/api/bot/step-failed")
    def step_failed():
        body = bodies.parse(bodies.StepFailed, read_json(max_body))
        return write(
            botwork.fail,
            ws,
            body.task_id,
            own_bot(body.bot_id),
            error_message=body.error_message,
            error_kind=body.error_kind,
            error_details=body.error_details,
            requires_review=body.requires_review,
            retryable=body.retryable,
            retry_after_seconds=body.retry_after_seconds,
        )

    @app.post("/api/bot/tasks/<task_id:int>/screenshot")
    def screenshot(task_id):
        path_id(task_id, "task")
        data = read_body(max_body)
        declared = request.environ.get("CONTENT_TYPE", "").split(";", 1)[0].strip().lower()
        if declared and declared not in SCREENSHOT_TYPES:
            raise evidence.NotAnImage(
                f"a screenshot must be image/png or image/jpeg, not {declared[:100]}",
                detail={"content_type": declared[:200]},
            )
        kept = write(evidence.add_screenshot, ws, task_id, the_bot()["id"], data)
        response.status = 201
        return kept

    @app.get("/api/bot/images/<content_id:int>")
    def image(content_id):
        path = content.image_path(ws, path_id(content_id, "image"))
        try:
            data = path.read_bytes()
        except OSError:  # removed since image_path looked
            raise NotFound(f"image {content_id} is not in the content folder any more") from None
        etag = f'"{hashes.of(path, data)}"'
        response.set_header("ETag", etag)
        response.set_header("Cache-Control", "private, no-cache")
        wanted = [t.strip() for t in raw_header("If-None-Match").split(",")]
        if etag in wanted or f"W/{etag}" in wanted or "*" in wanted:
            response.status = 304
            return ""
        response.content_type = content.image_mime(path)
        return data

    @app.post("/api/bot/account/<id:int>/metrics")
    def account_metrics(id):  # noqa: A002 - the path parameter's documented name
        account_id = path_id(id, "account")
        figures = read_json(max_body)
        kept = write(metrics.record, ws, account_id, the_bot()["id"], figures)
        response.status = 201
        return kept

    @app.put("/api/bot/heartbeat/<bot_id:int>")
    def heartbeat(bot_id):
        own_bot(bot_id)
        body = bodies.parse(bodies.Heartbeat, read_json(max_body, optional=True))
        return write(
            botwork.heartbeat,
            ws,
            bot_id,
            status=body.status,
            current_task_id=body.current_task_id,
            app_version=body.app_version,
            system_info=body.system_info,
        )

    app.config["igctl.read_json"] = lambda: read_json(max_body)
    return app
