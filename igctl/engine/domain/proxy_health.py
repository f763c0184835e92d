"""Proxy health: testing proxies for real, and the rules that follow from the results.

A test is one GET of `proxies.check_url` (an IP-echo service) through the proxy:
- `http://` and `https://` proxies (an `https://` proxy is one reached over TLS): an `http://`
  check URL is fetched with a GET of the absolute URI, as HTTP clients do through a proxy; an
  `https://` one through a CONNECT tunnel, with TLS to the check host inside it (TLS inside TLS
  for an `https://` proxy);
- `socks5://` and `socks5h://` proxies: a SOCKS5 CONNECT (user/password auth when the proxy has
  credentials; `socks5h` lets the proxy resolve the check host), then HTTP or HTTPS inside it.
Tunnels and SOCKS come from python-socks (maintained, sync API, no other dependencies); the HTTP
exchange itself is http.client's parser over that connection.

The result is reachable or the error, the latency (connect to last byte), and the exit IP the
echo reported. Proxies are tested in a thread pool; the threads only do network work and the
results are written from the calling thread, in transactions of `BATCH` results, so no test
holds the database's write lock while it waits for the network.

Rules (`record_results`, one place):
- `proxies.fail_threshold` failed tests in a row set an `active` proxy to `error` (quarantine);
  `inactive` proxies are left as they are: an operator took them out of service;
- a passing test resets the count; it sets an `error` proxy back to `active` only with
  `proxies.auto_recover` (default: an operator decides with `proxy set-status`);
- an exit IP that differs from the one the last successful test saw is a
  `proxy.exit_ip_changed` event and an attention item, until a passing test sees the same IP
  again or an operator runs `proxy set-status` on the proxy.
Repeated `proxy_error` reports from bots quarantine a proxy too (tasks.py, bot API).
"""

from __future__ import annotations

import base64
import http.client
import io
import ipaddress
import json
import socket
import ssl
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from ..store import changes
from ..store.changes import Command
from ..store.clock import from_db, to_db
from ..store.db import Database
from ..store.errors import InvalidInput, NotFound
from ..store.records import ProxyRow
from ..store.workspace import Workspace
from . import proxies

BATCH = 100  # results written per transaction
MAX_BODY = 64 * 1024  # an IP echo answers in a few bytes; more is not read
MAX_CONCURRENCY = 256
USER_AGENT = "igctl-proxy-test"


# -- one test ---------------------------------------------------------------------------------
@dataclass
class Probe:
    """The outcome of testing one proxy (no password in it)."""

    proxy_id: int
    ok: bool
    latency_ms: int | None = None
    exit_ip: str | None = None
    error: str | None = None
    http_status: int | None = None
    tested_at: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class CheckTarget:
    scheme: str
    host: str
    port: int
    path: str  # with the query
    url: str

    @classmethod
    def parse(cls, url: str) -> CheckTarget:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidInput(f"proxies.check_url {url!r} is not an http:// or https:// URL")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return cls(parts.scheme, parts.hostname, port, path, url)

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


@dataclass
class _Settings:
    target: CheckTarget
    timeout: float
    tls: ssl.SSLContext = field(repr=False)


class _Socket(Protocol):
    """A connection the check talks over: a socket, a TLS socket, or python-socks' TLS-in-TLS."""

    def sendall(self, data: bytes, /) -> Any: ...
    def settimeout(self, value: float | None, /) -> Any: ...
    def recv_into(self, buffer: memoryview, /) -> int: ...
    def close(self) -> Any: ...


class _Reader(io.RawIOBase):
    """A socket (plain, TLS or TLS-in-TLS) as the raw stream http.client reads a response from,
    with one deadline for the whole answer: each wait for data gets only the time that is left."""

    def __init__(self, sock: _Socket, deadline: float):
        self.sock = sock
        self.deadline = deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]  # http.client passes a memoryview
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("timed out")
        self.sock.settimeout(left)
        return self.sock.recv_into(buffer)


class _Response:
    """What http.client.HTTPResponse wants of a socket: `makefile('rb')`."""

    def __init__(self, sock: _Socket, deadline: float):
        self._reader = _Reader(sock, deadline)

    def makefile(self, mode: str = "rb") -> io.BufferedReader:
        return io.BufferedReader(self._reader)


def _basic(username: str | None, password: str | None) -> str | None:
    if not username:
        return None
    return "Basic " + base64.b64encode(f"{username}:{password or ''}".encode()).decode()


def _request(target: CheckTarget, uri: str, extra: dict[str, str] | None = None) -> bytes:
    lines = [
        f"GET {uri} HTTP/1.1",
        f"Host: {target.host_header}",
        f"User-Agent: {USER_AGENT}",
        "Accept: application/json, text/plain, */*",
        "Connection: close",
    ]
    lines += [f"{k}: {v}" for k, v in (extra or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _exchange(sock: _Socket, request: bytes, deadline: float) -> tuple[int, str, bytes]:
    sock.sendall(request)
    response = http.client.HTTPResponse(_Response(sock, deadline), method="GET")  # type: ignore[arg-type]  # it only calls makefile("rb")
    response.begin()
    try:
        body = response.read(MAX_BODY)
    finally:
        response.close()
    return response.status, response.reason, body


def _open(spec: proxies.ProxySpec, settings: _Settings) -> _Socket:
    """A connection to the check host through the proxy, TLS already on for an https check URL;
    for an http check URL through an HTTP proxy: a connection to the proxy itself."""
    target, timeout = settings.target, settings.timeout
    if spec.scheme in ("http", "https") and target.scheme == "http":
        sock = socket.create_connection((spec.host, spec.port), timeout=timeout)
        if spec.scheme == "https":
            sock = settings.tls.wrap_socket(sock, server_hostname=spec.host)
        return sock
    from python_socks import ProxyType
    from python_socks.sync.v2 import Proxy

    kind = ProxyType.HTTP if spec.scheme in ("http", "https") else ProxyType.SOCKS5
    proxy = Proxy(
        kind,
        spec.host,
        spec.port,
        spec.username,
        spec.password,
        rdns=spec.scheme == "socks5h",
        proxy_ssl=settings.tls if spec.scheme == "https" else None,
    )
    stream = proxy.connect(
        target.host, target.port, timeout=timeout, dest_ssl=settings.tls if target.scheme == "https" else None
    )
    return stream.socket


def check_one(proxy_id: int, spec: proxies.ProxySpec, settings: _Settings, now: Callable[[], str]) -> Probe:
    """Test one proxy. Never raises for a network failure: the failure is the result."""
    target = settings.target
    started = time.monotonic()
    deadline = started + settings.timeout
    sock = None
    try:
        sock = _open(spec, settings)
        if spec.scheme in ("http", "https") and target.scheme == "http":
            auth = _basic(spec.username, spec.password)
            request = _request(target, target.url, {"Proxy-Authorization": auth} if auth else None)
        else:
            request = _request(target, target.path)
        status, reason, body = _exchange(sock, request, deadline)
    except Exception as exc:  # noqa: BLE001 - every failure of the network is a test result
        return Probe(proxy_id, ok=False, error=_scrub(describe_error(exc, settings.timeout), spec), tested_at=now())
    finally:
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass
    latency = int(round((time.monotonic() - started) * 1000))
    if not 200 <= status < 300:
        what = (
            f"the proxy refused its credentials (HTTP {status} {reason})"
            if status == 407
            else f"HTTP {status} {reason} instead of the check URL's answer"
        )
        return Probe(
            proxy_id, ok=False, latency_ms=latency, http_status=status, tested_at=now(), error=_scrub(what, spec)
        )
    ip = exit_ip_from(body)
    note = None if ip else "the check URL's answer holds no IP address"
    return Probe(proxy_id, ok=True, latency_ms=latency, exit_ip=ip, http_status=status, tested_at=now(), note=note)


def _scrub(message: str, spec: proxies.ProxySpec) -> str:
    if spec.password:
        message = message.replace(spec.password, "***")
    return message[:500]


def describe_error(exc: BaseException, timeout: float) -> str:
    """A failure as one short line an operator understands."""
    from python_socks import ProxyConnectionError, ProxyError, ProxyTimeoutError

    cause = exc.__cause__ if isinstance(exc, ProxyConnectionError) and exc.__cause__ else exc
    if isinstance(exc, (ProxyTimeoutError, socket.timeout, TimeoutError)) or isinstance(
        cause, (socket.timeout, TimeoutError)
    ):
        return f"timed out after {timeout:g} s"
    if isinstance(cause, ConnectionRefusedError):
        return "connection refused by the proxy"
    if isinstance(cause, socket.gaierror):
        return f"cannot resolve a host name ({cause.strerror or cause})"
    if isinstance(exc, ProxyError):
        if getattr(exc, "error_code", None) == 407:
            return f"the proxy refused its credentials ({exc})"
        return f"the proxy refused the connection: {exc}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate not trusted: {exc.verify_message or exc.reason}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS failed: {exc.reason or exc}"
    if isinstance(exc, http.client.RemoteDisconnected):
        return "the connection was closed without an answer"
    if isinstance(exc, http.client.HTTPException):
        return f"not an HTTP answer: {type(exc).__name__} {exc}".rstrip()
    if isinstance(cause, ConnectionResetError):
        return "the connection was reset"
    if isinstance(cause, OSError):
        return f"network error: {cause.strerror or cause}"
    return f"{type(exc).__name__}: {exc}"


_IP_KEYS = ("ip", "origin", "query", "ip_addr", "address")


def exit_ip_from(body: bytes) -> str | None:
    """The IP address in an echo service's answer: JSON (`{"ip": …}`, httpbin's `origin`, …) or
    the address as plain text. None when there is none."""
    text = body.decode("utf-8", "replace").strip()
    candidates: list[str] = []
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict):
        candidates += [str(data[k]) for k in _IP_KEYS if k in data]
    elif isinstance(data, str):
        candidates.append(data)
    else:
        candidates.append(text)
    for value in candidates:
        first = value.split(",")[0].strip()  # "client, proxy" lists: the first is the client
        try:
            return ipaddress.ip_address(first).compressed
        except ValueError:
            continue
    return None


# -- settings -----------------------------------------------------------------------------------
def _settings(ws: Workspace) -> _Settings:
    cfg = ws.config.proxies
    target = CheckTarget.parse(cfg.check_url)
    cafile = None
    if cfg.ca_file:
        path = Path(cfg.ca_file).expanduser()
        if not path.is_absolute():
            path = ws.path / path
        if not path.is_file():
            raise InvalidInput(f"proxies.ca_file {cfg.ca_file} is not a file")
        cafile = str(path)
    try:
        tls = ssl.create_default_context(cafile=cafile)
    except (ssl.SSLError, OSError) as exc:
        raise InvalidInput(f"proxies.ca_file {cfg.ca_file} holds no usable certificates ({exc})") from None
    return _Settings(target, float(cfg.test_timeout_seconds), tls)


def _concurrency(ws: Workspace, concurrency: int | None) -> int:
    if concurrency is None:
        return ws.config.proxies.test_concurrency
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or not 1 <= concurrency <= MAX_CONCURRENCY:
        raise InvalidInput(f"concurrency must be a whole number from 1 to {MAX_CONCURRENCY}, not {concurrency}")
    return concurrency


# -- testing many ---------------------------------------------------------------------------------
def _targets(
    ws: Workspace, db: Database, proxy_ids: list[int] | None, all_: bool
) -> list[tuple[int, proxies.ProxySpec]]:
    if all_ and proxy_ids:
        raise InvalidInput("name proxies or ask for all of them, not both", about=("proxy_ids", "all"))
    if not all_ and not proxy_ids:
        raise InvalidInput("name the proxies to test, or ask for all of them", about=("proxy_ids", "all"))
    if all_:
        rows = db.query("SELECT id, scheme, host, port, username, password_enc FROM proxies ORDER BY id")
    else:
        assert proxy_ids  # checked above
        wanted = list(dict.fromkeys(int(i) for i in proxy_ids))
        marks = ", ".join("?" * len(wanted))
        found = {
            r["id"]: r
            for r in db.query(
                f"SELECT id, scheme, host, port, username, password_enc FROM proxies WHERE id IN ({marks})", wanted
            )
        }
        missing = [i for i in wanted if i not in found]
        if missing:
            if len(missing) == 1:
                raise NotFound(f"no proxy with id {missing[0]}")
            raise NotFound(f"no proxies with ids {', '.join(map(str, missing))}")
        rows = [found[i] for i in wanted]
    return [(r["id"], _spec(ws, r)) for r in rows]


def _spec(ws: Workspace, row: ProxyRow) -> proxies.ProxySpec:
    password = ws.cipher.decrypt(row["password_enc"]) if row["password_enc"] else None
    return proxies.ProxySpec(row["scheme"], row["host"], row["port"], row["username"] or None, password)


def check_proxies(
    ws: Workspace,
    proxy_ids: list[int] | None = None,
    *,
    all_: bool = False,
    concurrency: int | None = None,
    actor: str,
    progress: Callable[[int, int], None] | None = None,
    command: Command | None = None,
) -> dict[str, Any]:
    """Test the named proxies (or all with `all_`) concurrently and record every result with
    the health rules. Unknown ids, ids together with `all_`, neither, a bad concurrency or a bad
    `proxies.ca_file` → InvalidInput/NotFound before anything is sent or written. A proxy that
    fails its test is a result, not an error.

    `progress(n, total)` is called from this thread as results come in (n new ones); `command` (an operator's, e.g.
    `proxy test`) is recorded first in the first write transaction: the tests wait for the
    network, so there is no transaction of the caller's to record it in. Must not be called
    inside a transaction: the network is not waited for while holding the write lock.

    Returns `{"tested", "passed", "failed", "quarantined": [ids], "recovered": [ids],
    "exit_ip_changed": [ids], "results": [one dict per proxy, in the order asked]}`."""
    db = ws.db()
    if db.in_transaction:
        raise RuntimeError("check_proxies writes its own transactions; do not call it inside db.write()")
    settings = _settings(ws)
    workers = _concurrency(ws, concurrency)
    targets = _targets(ws, db, proxy_ids, all_)
    order = {pid: n for n, (pid, _spec) in enumerate(targets)}
    recorded: list[dict] = []
    pending: list[Probe] = []
    first = [True]

    def flush() -> None:
        if not pending:
            return
        with db.write():
            if first[0] and command is not None:
                changes.record(ws, db, command)
            first[0] = False
            recorded.extend(record_results(ws, pending, actor=actor))
        pending.clear()

    if targets:
        with ThreadPoolExecutor(max_workers=min(workers, len(targets)), thread_name_prefix="proxy-test") as pool:
            futures = [pool.submit(check_one, pid, spec, settings, ws.now) for pid, spec in targets]
            for future in as_completed(futures):
                pending.append(future.result())
                if progress is not None:
                    progress(1, len(targets))
                if len(pending) >= BATCH:
                    flush()
        flush()
    recorded.sort(key=lambda r: order[r["proxy_id"]])
    return _summary(recorded)


def _summary(results: list[dict]) -> dict[str, Any]:
    return {
        "tested": len(results),
        "passed": sum(1 for r in results if r["ok"]),
        "failed": sum(1 for r in results if not r["ok"]),
        "quarantined": [r["proxy_id"] for r in results if r["quarantined"]],
        "recovered": [r["proxy_id"] for r in results if r["recovered"]],
        "exit_ip_changed": [r["proxy_id"] for r in results if r["exit_ip_changed"]],
        "results": results,
    }


# -- the rules ----------------------------------------------------------------------------------
def record_results(ws: Workspace, probes: list[Probe], *, actor: str) -> list[dict[str, Any]]:
    """Write test results on their proxies with a `proxy.tested` event each, and apply the health
    rules (quarantine, recovery, exit IP change). Joins the caller's transaction. A proxy removed
    while it was tested is skipped. Returns one dict per recorded result."""
    cfg = ws.config.proxies
    db = ws.db()
    out = []
    with db.write():
        for probe in probes:
            row = db.one("SELECT * FROM proxies WHERE id = ?", [probe.proxy_id])
            if row is None:
                continue
            at = probe.tested_at or ws.now()
            old_status = row["status"]
            previous_ip = row["last_exit_ip"]
            changed = acknowledged = quarantined = recovered = False
            if probe.ok:
                failures = 0
                exit_ip = probe.exit_ip or previous_ip
                changed = bool(probe.exit_ip and previous_ip and probe.exit_ip != previous_ip)
                acknowledged = bool(probe.exit_ip and probe.exit_ip == previous_ip and row["exit_ip_changed_at"])
                db.execute(
                    """UPDATE proxies SET last_tested_at = ?, last_test_ok = 1, last_latency_ms = ?, last_exit_ip = ?,
                              last_test_error = NULL, consecutive_failures = 0 WHERE id = ?""",
                    [at, probe.latency_ms, exit_ip, probe.proxy_id],
                )
                if changed:
                    db.execute(
                        "UPDATE proxies SET previous_exit_ip = ?, exit_ip_changed_at = ? WHERE id = ?",
                        [previous_ip, at, probe.proxy_id],
                    )
                elif acknowledged:
                    db.execute(
                        "UPDATE proxies SET previous_exit_ip = NULL, exit_ip_changed_at = NULL WHERE id = ?",
                        [probe.proxy_id],
                    )
            else:
                failures = row["consecutive_failures"] + 1
                db.execute(
                    """UPDATE proxies SET last_tested_at = ?, last_test_ok = 0, last_latency_ms = NULL,
                              last_test_error = ?, consecutive_failures = ? WHERE id = ?""",
                    [at, probe.error, failures, probe.proxy_id],
                )
            label = _label(row)
            ws.events.record(
                db,
                at,
                "proxy.tested",
                actor,
                proxy_id=probe.proxy_id,
                message=(
                    f"proxy {probe.proxy_id} ({label}) passed: {probe.latency_ms} ms, exit IP {probe.exit_ip or 'unknown'}"
                    if probe.ok
                    else f"proxy {probe.proxy_id} ({label}) failed: {probe.error}"
                ),
                details={
                    "ok": probe.ok,
                    "latency_ms": probe.latency_ms,
                    "exit_ip": probe.exit_ip,
                    "error": probe.error,
                    "http_status": probe.http_status,
                    "consecutive_failures": failures,
                    "note": probe.note,
                    "check_host": CheckTarget.parse(cfg.check_url).host,
                },
            )
            if changed:
                ws.events.record(
                    db,
                    at,
                    "proxy.exit_ip_changed",
                    actor,
                    proxy_id=probe.proxy_id,
                    message=f"proxy {probe.proxy_id} ({label}) exit IP changed: {previous_ip} → {probe.exit_ip}",
                    details={"old_exit_ip": previous_ip, "new_exit_ip": probe.exit_ip},
                )
            if not probe.ok and old_status == "active" and failures >= cfg.fail_threshold:
                proxies.set_status(
                    ws,
                    probe.proxy_id,
                    "error",
                    actor=actor,
                    cause=f"{failures} failed tests in a row (proxies.fail_threshold {cfg.fail_threshold}): {probe.error}",
                )
                quarantined = True
            if probe.ok and old_status == "error" and cfg.auto_recover:
                proxies.set_status(
                    ws, probe.proxy_id, "active", actor=actor, cause="passed a test (proxies.auto_recover)"
                )
                recovered = True
            status = db.scalar("SELECT status FROM proxies WHERE id = ?", [probe.proxy_id])
            out.append(
                {
                    "proxy_id": probe.proxy_id,
                    "proxy": label,
                    "ok": probe.ok,
                    "latency_ms": probe.latency_ms,
                    "exit_ip": probe.exit_ip,
                    "previous_exit_ip": previous_ip,
                    "exit_ip_changed": changed,
                    "error": probe.error,
                    "note": probe.note,
                    "http_status": probe.http_status,
                    "tested_at": at,
                    "consecutive_failures": failures,
                    "old_status": old_status,
                    "status": status,
                    "quarantined": quarantined,
                    "recovered": recovered,
                }
            )
    return out


def _label(row: ProxyRow) -> str:
    host = f"[{row['host']}]" if ":" in row["host"] else row["host"]
    user = f"{row['username']}@" if row["username"] else ""
    return f"{row['scheme']}://{user}{host}:{row['port']}"


# -- for warmup tick and review list ------------------------------------------------------------
def due_proxy_ids(ws: Workspace, now: str | None = None) -> list[int]:
    """The `active` and `error` proxies not tested within `proxies.test_every_hours` (never
    tested, or last tested that long ago or longer); none when the setting is null."""
    hours = ws.config.proxies.test_every_hours
    if hours is None:
        return []
    cutoff = to_db(from_db(now or ws.now()) - timedelta(hours=hours))
    return [
        r["id"]
        for r in ws.db().query(
            "SELECT id FROM proxies WHERE status IN ('active', 'error') AND (last_tested_at IS NULL OR last_tested_at <= ?) "
            "ORDER BY last_tested_at IS NOT NULL, last_tested_at, id",
            [cutoff],
        )
    ]


def run_due_tests(
    ws: Workspace, *, actor: str = "tick", progress: Callable[[int, int], None] | None = None
) -> dict[str, Any]:
    """What `warmup tick` calls (outside its own transaction: tests wait for the network): test
    the proxies `due_proxy_ids` names. Returns counts: `{"proxies_tested", "proxies_passed",
    "proxies_failed", "proxies_quarantined", "proxies_recovered", "proxy_exit_ip_changes"}`."""
    ids = due_proxy_ids(ws)
    result = check_proxies(ws, ids, actor=actor, progress=progress) if ids else _summary([])
    return {
        "proxies_tested": result["tested"],
        "proxies_passed": result["passed"],
        "proxies_failed": result["failed"],
        "proxies_quarantined": len(result["quarantined"]),
        "proxies_recovered": len(result["recovered"]),
        "proxy_exit_ip_changes": len(result["exit_ip_changed"]),
    }


def attention(ws: Workspace) -> list[dict[str, Any]]:
    """Proxy items for `review list`: every `error` and `inactive` proxy (kinds `proxy_error`,
    `proxy_inactive`) with its accounts, and every proxy whose exit IP changed at a test and was
    not acknowledged since (`proxy_ip_changed`). Each has `kind`, `proxy_id`, `message`,
    `since` (stored UTC), and `proxy`, `status`, `account_count`, `last_tested_at`,
    `last_test_error`; IP changes also `old_exit_ip`, `new_exit_ip`. Oldest first within a kind."""
    db = ws.db()
    rows = db.query(
        f"SELECT * FROM ({proxies._SELECT}) WHERE status != 'active' OR exit_ip_changed_at IS NOT NULL ORDER BY id"
    )
    bad, changed = [], []
    for r in rows:
        base = {
            "proxy_id": r["id"],
            "proxy": _label(r),
            "status": r["status"],
            "account_count": r["account_count"],
            "last_tested_at": r["last_tested_at"],
            "last_test_error": r["last_test_error"],
        }
        n = r["account_count"]
        accounts = f"{n} account{'s' if n != 1 else ''}"
        if r["status"] != "active":
            since = r["status_changed_at"] or r["updated_at"]
            why = f"; last test: {r['last_test_error']}" if r["last_test_ok"] == 0 and r["last_test_error"] else ""
            what = (
                f"{accounts} get no tasks: test it (igctl proxy test {r['id']}), move them "
                f"(igctl proxy replace/rebalance) or set it active"
                if n
                else "no accounts on it"
            )
            bad.append(
                {
                    "kind": f"proxy_{r['status']}",
                    **base,
                    "since": since,
                    "message": f"proxy {r['id']} ({_label(r)}) is {r['status']}{why}; {what}",
                }
            )
        if r["exit_ip_changed_at"] is not None:
            changed.append(
                {
                    "kind": "proxy_ip_changed",
                    **base,
                    "since": r["exit_ip_changed_at"],
                    "old_exit_ip": r["previous_exit_ip"],
                    "new_exit_ip": r["last_exit_ip"],
                    "message": (
                        f"proxy {r['id']} ({_label(r)}) exit IP changed from {r['previous_exit_ip']} to "
                        f"{r['last_exit_ip']} ({accounts}); acknowledge with igctl proxy set-status {r['id']} {r['status']}"
                    ),
                }
            )
    order = {"proxy_error": 0, "proxy_inactive": 1}
    bad.sort(key=lambda i: (order[i["kind"]], i["since"] or "", i["proxy_id"]))
    changed.sort(key=lambda i: (i["since"], i["proxy_id"]))
    return bad + changed
