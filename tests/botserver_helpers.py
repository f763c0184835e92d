"""A real bot API server for the tests: cheroot on 127.0.0.1, a free port, in a thread of the
test process (so IGCTL_NOW set by the test moves the server's clock too), and plain HTTP
calls to it with http.client."""

from __future__ import annotations

import http.client
import json
import select
import socket
import threading

from igctl.botserver.app import AuthThrottle
from igctl.botserver.serve import make_server, run
from igctl.engine.store.workspace import Workspace


class LiveServer:
    def __init__(self, ws_path, *, threads: int = 8, throttle: AuthThrottle | None = None):
        self.ws = Workspace.open(ws_path)
        self.bound = make_server(self.ws, "127.0.0.1", 0, threads, throttle=throttle)
        self.host, self.port = self.bound.addresses[0]
        self.url = f"http://{self.host}:{self.port}"
        self.thread = threading.Thread(
            target=run, args=(self.bound,), kwargs={"install_signals": False, "drain_seconds": 5}, daemon=True
        )
        self.thread.start()

    def stop(self) -> None:
        self.bound.stop()
        self.thread.join(timeout=15)
        assert not self.thread.is_alive(), "the server did not stop"

    def call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        body=None,
        raw: bytes | None = None,
        headers: dict | None = None,
        content_type: str | None = None,
    ):
        """One request on a new connection: (status, headers (lower-case names), parsed JSON or bytes)."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        hdrs = dict(headers or {})
        if token is not None:
            hdrs["Authorization"] = f"Bearer {token}"
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        if content_type:
            hdrs["Content-Type"] = content_type
        try:
            conn.request(method, path, body=data, headers=hdrs)
            resp = conn.getresponse()
            payload = resp.read()
            rh = {k.lower(): v for k, v in resp.getheaders()}
        finally:
            conn.close()
        if payload and rh.get("content-type", "").startswith("application/json"):
            return resp.status, rh, json.loads(payload)
        return resp.status, rh, payload


def raw_request(server, head: bytes, body: bytes = b"") -> tuple[int, dict, bytes]:
    """A request written byte for byte on a socket (what http.client would not send), and the
    answer read until the server closes."""
    with socket.create_connection((server.host, server.port), timeout=30) as sock:
        data = head + body
        # send piece by piece and stop as soon as the server answers (it may refuse a body
        # before it has all of it, and then close the connection)
        for start in range(0, len(data), 256 * 1024):
            if select.select([sock], [], [], 0)[0]:
                break
            try:
                sock.sendall(data[start : start + 256 * 1024])
            except (BrokenPipeError, ConnectionResetError):
                break
        chunks = []
        while True:
            try:
                data = sock.recv(65536)
            except ConnectionResetError:
                break
            if not data:
                break
            chunks.append(data)
    reply = b"".join(chunks)
    header_block, _, payload = reply.partition(b"\r\n\r\n")
    lines = header_block.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return status, headers, payload


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 40
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 40 + b"\xff\xd9"
