"""The Python client of the igctl bot API, for the software on a bot PC.

Standard library only (http.client, json): copy this one file to a bot PC, or `pip install
igctl` there, and nothing else is needed.

    from igctl.botclient import BotClient

    client = BotClient("http://10.0.0.5:8700", token)
    task = client.next_task()          # None when nothing is due
    ...
    client.complete(task["task_id"], execution_time_ms=5300)

One method per endpoint. A client keeps one keep-alive connection: use one client per thread.
Connection errors and 5xx answers are retried with exponential backoff (`retries` times);
4xx answers are not (they will not change by asking again) and raise a typed `ApiError`
subclass carrying `status`, `error` and `detail`. All reports are safe to repeat: the server
answers a repeated completion or failure as it did the first time. A claim (`next_task`) is
safe to repeat too: each call sends an `Idempotency-Key` of its own and its retries send the
same one, so a claim whose answer was lost gets the same task back, not a second one.
"""

from __future__ import annotations

import http.client
import json
import random
import socket
import time
import uuid
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

__all__ = [
    "BotClient",
    "ApiError",
    "BadRequest",
    "Unauthorized",
    "Forbidden",
    "NotFound",
    "Conflict",
    "TooLarge",
    "UnsupportedMedia",
    "Throttled",
    "ServerError",
    "ConnectionFailed",
    "Image",
]


class ApiError(Exception):
    """An error answer of the API (or no answer at all: ConnectionFailed, status 0)."""

    def __init__(self, status: int, error: str, detail: Any = None, headers: dict | None = None):
        super().__init__(f"{status}: {error}" if status else error)
        self.status = status
        self.error = error
        self.detail = detail
        self.headers = headers or {}


class BadRequest(ApiError):
    """400: the body or a parameter is invalid."""


class Unauthorized(ApiError):
    """401: missing, unknown or revoked token."""


class Forbidden(ApiError):
    """403: the token acts for another bot, or the account is not bound to this bot."""


class NotFound(ApiError):
    """404: no such task, account, image or endpoint."""


class MethodNotAllowed(ApiError):
    """405."""


class Conflict(ApiError):
    """409: this bot does not hold the task (its lease ran out, or it went to another bot)."""


class TooLarge(ApiError):
    """413: the body is over the server's limit."""


class UnsupportedMedia(ApiError):
    """415: a screenshot that is neither PNG nor JPEG."""


class Throttled(ApiError):
    """429: too many failed authentications from this address; `retry_after` seconds."""

    @property
    def retry_after(self) -> int | None:
        value = self.headers.get("retry-after")
        return int(value) if value and value.isdigit() else None


class ServerError(ApiError):
    """5xx, still failing after the retries."""


class ConnectionFailed(ApiError):
    """No answer (refused, reset, timed out), still failing after the retries."""


_BY_STATUS = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    405: MethodNotAllowed,
    409: Conflict,
    413: TooLarge,
    415: UnsupportedMedia,
    429: Throttled,
}

_RETRYABLE = (ConnectionError, socket.timeout, TimeoutError, http.client.HTTPException, OSError)


class Image:
    """An image's bytes with its content type and ETag (the SHA-256 of the bytes, quoted)."""

    def __init__(self, content_id: int, data: bytes, content_type: str, etag: str | None):
        self.content_id = content_id
        self.data = data
        self.content_type = content_type
        self.etag = etag

    @property
    def sha256(self) -> str | None:
        return self.etag.strip('"') if self.etag else None

    def __repr__(self) -> str:
        return f"Image({self.content_id}, {len(self.data)} bytes, {self.content_type})"


class BotClient:
    """A bot's connection to `igctl serve-bots`.

    base_url: "http://host:8700" (https works too). token: from `igctl bot add`.
    bot_id: the bot's id; when left out it is asked from the server once (`me()`).
    timeout: seconds per request. retries: how many times a connection error or 5xx is tried
    again, waiting backoff, 2×backoff, 4×… (at most max_backoff, with jitter) in between.
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        bot_id: int | None = None,
        timeout: float = 30.0,
        retries: int = 5,
        backoff: float = 0.25,
        max_backoff: float = 10.0,
        user_agent: str = "igctl-botclient",
    ):
        parts = urlsplit(base_url.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"base_url must be http://host:port or https://host:port, not {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self._scheme = parts.scheme
        self._host = parts.hostname
        self._port = parts.port or (443 if parts.scheme == "https" else 80)
        self._prefix = parts.path.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.user_agent = user_agent
        self._bot_id = bot_id
        self._conn: http.client.HTTPConnection | None = None

    # -- plumbing --------------------------------------------------------------------------
    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> BotClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            cls = http.client.HTTPSConnection if self._scheme == "https" else http.client.HTTPConnection
            self._conn = cls(self._host, self._port, timeout=self.timeout)
        return self._conn

    def _once(self, method: str, path: str, body: bytes | None, headers: dict) -> tuple[int, dict, bytes]:
        conn = self._connection()
        try:
            conn.request(method, self._prefix + path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        except BaseException:
            self.close()
            raise
        if resp.will_close:
            self.close()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        body: bytes | None = None,
        content_type: str | None = None,
        headers: dict | None = None,
        auth: bool = True,
    ) -> tuple[int, dict, bytes]:
        """One API call with retries; returns (status, headers, body) of a 2xx or 304 answer
        and raises the ApiError subclass of any other."""
        hdrs = {"User-Agent": self.user_agent, "Accept": "application/json", **(headers or {})}
        if auth:
            hdrs["Authorization"] = f"Bearer {self.token}"
        if json_body is not None:
            body = json.dumps(json_body).encode("utf-8")
            content_type = "application/json"
        if body is not None:
            hdrs["Content-Type"] = content_type or "application/octet-stream"
        attempt = 0
        stale_retried = False
        while True:
            reused = self._conn is not None
            try:
                status, rheaders, data = self._once(method, path, body, hdrs)
            except _RETRYABLE as exc:
                # A keep-alive connection the server closed while idle fails at once: that is
                # not the server being down, so the first such failure is retried immediately.
                if (
                    reused
                    and not stale_retried
                    and isinstance(exc, (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected))
                ):
                    stale_retried = True
                    continue
                if attempt >= self.retries:
                    raise ConnectionFailed(0, f"no answer from {self.base_url}: {exc!r}") from exc
                attempt += 1
                self._sleep(attempt)
                continue
            if status >= 500 and attempt < self.retries:
                attempt += 1
                self._sleep(attempt)
                continue
            if 200 <= status < 300 or status == 304:
                return status, rheaders, data
            raise self._error(status, rheaders, data)

    def _sleep(self, attempt: int) -> None:
        delay = min(self.max_backoff, self.backoff * 2 ** (attempt - 1))
        time.sleep(delay * random.uniform(0.75, 1.25))

    @staticmethod
    def _error(status: int, headers: dict, data: bytes) -> ApiError:
        try:
            payload = json.loads(data.decode("utf-8"))
            error, detail = payload.get("error", ""), payload.get("detail")
        except (ValueError, UnicodeDecodeError, AttributeError):
            error, detail = data.decode("utf-8", "replace")[:200], None
        cls = _BY_STATUS.get(status, ServerError if status >= 500 else ApiError)
        return cls(status, error or http.client.responses.get(status, "error"), detail, headers)

    def _json(self, method: str, path: str, json_body: Any = None, *, auth: bool = True) -> Any:
        status, _, data = self.request(method, path, json_body=json_body, auth=auth)
        if status == 204 or not data:
            return None
        return json.loads(data.decode("utf-8"))

    @property
    def bot_id(self) -> int:
        if self._bot_id is None:
            self._bot_id = self.me()["bot_id"]
        return self._bot_id

    # -- endpoints -------------------------------------------------------------------------
    def health(self) -> dict:
        """GET /api/health (no token): {"status", "version", "database", "server_time"}."""
        return self._json("GET", "/api/health", auth=False)

    def openapi(self) -> dict:
        """GET /api/openapi.json: the API's description."""
        return self._json("GET", "/api/openapi.json", auth=False)

    def me(self) -> dict:
        """GET /api/bot/me: {"bot_id", "name", "slots", "server_time"} of this token's bot."""
        return self._json("GET", "/api/bot/me")

    def next_task(self) -> dict | None:
        """GET /api/bot/next-task/<bot_id>: the claimed task (its lease starts now), or None.
        One Idempotency-Key per call, the same on its retries: a retry after a lost answer
        gets the task that answer held."""
        headers = {"Idempotency-Key": str(uuid.uuid4())}
        status, _, data = self.request("GET", f"/api/bot/next-task/{self.bot_id}", headers=headers)
        if status == 204 or not data:
            return None
        return json.loads(data.decode("utf-8"))

    def content(self, account_id: int, task_id: int) -> dict:
        """GET /api/bot/account/<id>/content?task_id=T: {"texts", "images": [{"content_id", "url", "sha256"}]}."""
        return self._json("GET", f"/api/bot/account/{int(account_id)}/content?{urlencode({'task_id': int(task_id)})}")

    def complete(
        self,
        task_id: int,
        *,
        execution_time_ms: int | None = None,
        content_used: Any = None,
        instagram_response: Any = None,
    ) -> dict:
        """POST /api/bot/step-complete. Conflict when this bot no longer holds the task."""
        body: dict = {"task_id": int(task_id), "bot_id": self.bot_id}
        if execution_time_ms is not None:
            body["execution_time_ms"] = int(execution_time_ms)
        if content_used is not None:
            body["content_used"] = content_used
        if instagram_response is not None:
            body["instagram_response"] = instagram_response
        return self._json("POST", "/api/bot/step-complete", body)

    def fail(
        self,
        task_id: int,
        error_message: str,
        *,
        error_kind: str = "other",
        error_details: Any = None,
        requires_review: bool = False,
        retryable: bool = True,
        retry_after_seconds: float | None = None,
    ) -> dict:
        """POST /api/bot/step-failed: the retry is scheduled, or the account goes to review."""
        body: dict = {
            "task_id": int(task_id),
            "bot_id": self.bot_id,
            "error_message": error_message,
            "error_kind": error_kind,
            "requires_review": requires_review,
            "retryable": retryable,
        }
        if error_details is not None:
            body["error_details"] = error_details
        if retry_after_seconds is not None:
            body["retry_after_seconds"] = retry_after_seconds
        return self._json("POST", "/api/bot/step-failed", body)

    def image(self, content_id: int, *, etag: str | None = None) -> Image | None:
        """GET /api/bot/images/<id>: the bytes; None when `etag` still matches (304)."""
        headers = {"If-None-Match": etag} if etag else None
        status, rheaders, data = self.request("GET", f"/api/bot/images/{int(content_id)}", headers=headers)
        if status == 304:
            return None
        return Image(int(content_id), data, rheaders.get("content-type", ""), rheaders.get("etag"))

    def image_url(self, url: str, *, etag: str | None = None) -> Image | None:
        """An image by the `url` of a content answer (`/api/bot/images/<id>`)."""
        return self.image(int(url.rstrip("/").rsplit("/", 1)[-1]), etag=etag)

    def screenshot(self, task_id: int, data: bytes, content_type: str | None = None) -> dict:
        """POST /api/bot/tasks/<id>/screenshot: a PNG or JPEG kept as evidence of the task."""
        if content_type is None:
            content_type = "image/png" if data.startswith(b"\x89PNG") else "image/jpeg"
        _, _, out = self.request(
            "POST", f"/api/bot/tasks/{int(task_id)}/screenshot", body=data, content_type=content_type
        )
        return json.loads(out.decode("utf-8"))

    def metrics(
        self,
        account_id: int,
        *,
        followers: int | None = None,
        following: int | None = None,
        posts: int | None = None,
        **other: float,
    ) -> dict:
        """POST /api/bot/account/<id>/metrics: the account's figures (other numbers by name)."""
        body = {
            k: v for k, v in {"followers": followers, "following": following, "posts": posts}.items() if v is not None
        }
        body.update(other)
        return self._json("POST", f"/api/bot/account/{int(account_id)}/metrics", body)

    def heartbeat(
        self,
        *,
        status: str | None = None,
        current_task_id: int | None = None,
        app_version: str | None = None,
        system_info: Any = None,
    ) -> dict:
        """PUT /api/bot/heartbeat/<bot_id>: alive; the leases this bot holds are extended."""
        body = {
            k: v
            for k, v in {
                "status": status,
                "current_task_id": current_task_id,
                "app_version": app_version,
                "system_info": system_info,
            }.items()
            if v is not None
        }
        return self._json("PUT", f"/api/bot/heartbeat/{quote(str(self.bot_id))}", body)
