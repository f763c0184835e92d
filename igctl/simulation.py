"""Simulated bots: threads that drive a running `igctl serve-bots` over HTTP with `BotClient`,
as phones would — claim, fetch the content and its images, "work" a random short time, then
complete or fail with a random error kind, heartbeat now and then, and report metrics.

`run_bots(base_url, tokens, …)` is the reusable core: `igctl bots simulate`, the load tests and
the demo call it. It talks to the server only over HTTP, so it works against any server.
"""

from __future__ import annotations

import random
import struct
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field, fields

from igctl.botclient import ApiError, BotClient, Conflict
from igctl.engine.flows.botwork import ERROR_KINDS  # the kinds the bot API takes


def tiny_png() -> bytes:
    """A valid 1×1 PNG: the simulated screenshot of a failure."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", raw)
        + chunk(b"IEND", b"")
    )


@dataclass
class Counts:
    """What one simulated bot (or all of them, added up) did."""

    claimed: int = 0
    completed: int = 0
    failed: int = 0
    idle: int = 0  # next-task answered 204
    images: int = 0
    heartbeats: int = 0
    screenshots: int = 0
    metrics: int = 0
    conflicts: int = 0  # 409: the lease was lost before the report
    errors: int = 0  # any other error answer (after the client's retries)
    task_ids: list[int] = field(default_factory=list, repr=False)

    def add(self, other: Counts) -> None:
        for f in fields(self):
            if f.name == "task_ids":
                self.task_ids.extend(other.task_ids)
            else:
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "task_ids"}


@dataclass
class Settings:
    duration: float | None = 60.0  # seconds; None: until stopped otherwise
    failure_rate: float = 0.1
    work_ms: tuple[int, int] = (20, 200)
    idle_wait: float = 0.5  # seconds to wait after a 204 before asking again
    heartbeat_every: float = 5.0
    error_kinds: tuple[str, ...] = ERROR_KINDS
    fetch_images: bool = True
    report_metrics: bool = True
    screenshots: bool = True
    max_completed: int | None = None  # stop once this many tasks were completed by all bots
    stop_when_idle: float | None = None  # stop once every bot got 204 for this many seconds
    seed: int | None = None
    timeout: float = 30.0
    retries: int = 5


@dataclass
class BotResult:
    name: str
    bot_id: int
    counts: Counts
    error: str | None = None


class Simulation:
    """N simulated bots in threads. `run()` blocks until a stop condition and returns the
    per-bot results; `stop()` (from any thread) ends it early; `snapshot()` adds up the counts
    so far (for a live summary)."""

    def __init__(self, base_url: str, tokens: list[str], settings: Settings | None = None):
        if not tokens:
            raise ValueError("no bot tokens to simulate with")
        self.base_url = base_url
        self.tokens = tokens
        self.settings = settings or Settings()
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._counts = [Counts() for _ in tokens]
        self._idle_since: list[float | None] = [None] * len(tokens)
        self._results: list[BotResult | None] = [None] * len(tokens)
        self.started_at = time.monotonic()

    def stop(self) -> None:
        self.stopping.set()

    def snapshot(self) -> Counts:
        total = Counts()
        with self._lock:
            for c in self._counts:
                total.add(Counts(**{**c.as_dict(), "task_ids": []}))
        return total

    # -- one bot ---------------------------------------------------------------------------
    def _should_stop(self) -> bool:
        s = self.settings
        if self.stopping.is_set():
            return True
        if s.duration is not None and time.monotonic() - self.started_at >= s.duration:
            return True
        if s.max_completed is not None:
            with self._lock:
                if sum(c.completed for c in self._counts) >= s.max_completed:
                    return True
        if s.stop_when_idle is not None:
            now = time.monotonic()
            with self._lock:
                if all(t is not None and now - t >= s.stop_when_idle for t in self._idle_since):
                    return True
        return False

    def _pause(self, seconds: float) -> None:
        self.stopping.wait(seconds)

    def _bot(self, index: int, token: str, barrier: threading.Barrier | None) -> None:
        s = self.settings
        rng = random.Random(None if s.seed is None else s.seed * 1000 + index)
        counts = self._counts[index]
        client = BotClient(self.base_url, token, timeout=s.timeout, retries=s.retries)
        name, bot_id = f"#{index}", 0
        try:
            me = client.me()
            name, bot_id = me["name"], me["bot_id"]
            if barrier is not None:
                barrier.wait()
            last_beat = 0.0
            followers: dict[int, int] = {}
            while not self._should_stop():
                if time.monotonic() - last_beat >= s.heartbeat_every:
                    client.heartbeat(status="working", app_version="igctl-simulator")
                    last_beat = time.monotonic()
                    with self._lock:
                        counts.heartbeats += 1
                task = client.next_task()
                if task is None:
                    with self._lock:
                        counts.idle += 1
                        if self._idle_since[index] is None:
                            self._idle_since[index] = time.monotonic()
                    self._pause(s.idle_wait)
                    continue
                with self._lock:
                    counts.claimed += 1
                    counts.task_ids.append(task["task_id"])
                    self._idle_since[index] = None
                self._work(client, task, rng, counts, followers)
        except ApiError as exc:
            with self._lock:
                counts.errors += 1
            self._results[index] = BotResult(name, bot_id, counts, f"{type(exc).__name__}: {exc}")
            return
        finally:
            client.close()
        self._results[index] = BotResult(name, bot_id, counts)

    def _work(self, client: BotClient, task: dict, rng: random.Random, counts: Counts, followers: dict) -> None:
        s = self.settings
        started = time.monotonic()
        try:
            answer = client.content(task["account"]["id"], task["task_id"])
            if s.fetch_images:
                for image in answer["images"]:
                    client.image_url(image["url"])
                    with self._lock:
                        counts.images += 1
            self._pause(rng.uniform(*s.work_ms) / 1000)
            elapsed = int((time.monotonic() - started) * 1000)
            if rng.random() < s.failure_rate:
                kind = rng.choice(s.error_kinds)
                extra = {"retry_after_seconds": rng.choice([60, 600, 3600])} if kind == "rate_limited" else {}
                client.fail(
                    task["task_id"],
                    f"simulated {kind}",
                    error_kind=kind,
                    error_details={"simulated": True, "elapsed_ms": elapsed},
                    **extra,
                )
                with self._lock:
                    counts.failed += 1
                if s.screenshots:
                    client.screenshot(task["task_id"], tiny_png())
                    with self._lock:
                        counts.screenshots += 1
                return
            client.complete(
                task["task_id"], execution_time_ms=elapsed, content_used=answer, instagram_response={"simulated": True}
            )
            with self._lock:
                counts.completed += 1
            if s.report_metrics:
                aid = task["account"]["id"]
                followers[aid] = followers.get(aid, rng.randint(50, 500)) + rng.randint(0, 20)
                client.metrics(aid, followers=followers[aid], following=rng.randint(10, 300), posts=rng.randint(0, 30))
                with self._lock:
                    counts.metrics += 1
        except Conflict:
            with self._lock:
                counts.conflicts += 1

    # -- all bots --------------------------------------------------------------------------
    def run(
        self, *, on_tick: Callable[[Counts, float], None] | None = None, tick_every: float = 0.5, together: bool = False
    ) -> list[BotResult]:
        """Run every bot until a stop condition; `together`: release them at once (a barrier).
        `on_tick(counts, elapsed)` is called every `tick_every` seconds from this thread."""
        barrier = threading.Barrier(len(self.tokens)) if together else None
        self.started_at = time.monotonic()
        threads = [
            threading.Thread(target=self._bot, args=(i, t, barrier), daemon=True, name=f"simbot-{i}")
            for i, t in enumerate(self.tokens)
        ]
        for th in threads:
            th.start()
        try:
            while any(th.is_alive() for th in threads):
                for th in threads:
                    th.join(timeout=tick_every / len(threads))
                if on_tick is not None:
                    on_tick(self.snapshot(), time.monotonic() - self.started_at)
        except KeyboardInterrupt:
            self.stop()
            for th in threads:
                th.join()
        return [
            r if r is not None else BotResult(f"#{i}", 0, self._counts[i], "did not finish")
            for i, r in enumerate(self._results)
        ]


def run_bots(base_url: str, tokens: list[str], **settings) -> dict:
    """Run simulated bots (keyword arguments: the fields of `Settings`) and return
    `{"total": {...counts}, "bots": [{"name", "bot_id", ...counts, "error"}], "seconds",
    "task_ids"}` — task_ids lists every claim in order, for callers that check uniqueness."""
    sim = Simulation(base_url, tokens, Settings(**settings))
    results = sim.run()
    total = Counts()
    for r in results:
        total.add(r.counts)
    return {
        "total": total.as_dict(),
        "bots": [{"name": r.name, "bot_id": r.bot_id, **r.counts.as_dict(), "error": r.error} for r in results],
        "seconds": round(time.monotonic() - sim.started_at, 2),
        "task_ids": total.task_ids,
    }
