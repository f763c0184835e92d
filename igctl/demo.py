"""`igctl demo`: a throw-away workspace taken through the whole lifecycle by simulated bots.

`run_demo()` builds a workspace with generated sample data (accounts, proxies in two locations,
two models with strategies, generated PNG images and text pools), serves the bot API on a free
loopback port in this process, and moves a simulated clock through the story while simulated
bots (igctl/simulation.py) work the queue over real HTTP:

    day 1       import proxies and accounts (auto-assigned), first tick starts the warm-ups
    days 1–6    one warm-up step per account and calendar day; random retryable failures are
                retried by the queue; on day 2 one step ends in a challenge (human review),
                which the operator resolves by hand the next morning
    then        the ready accounts are assigned to the two models (onboarding at once), and
                `days` days of posting follow on the models' schedules
    last day    one account is retired (banned) and the second model is deleted: its accounts
                go through cleanup (reset_pfp, reset_bio, delete_posts) and are ready again

Every change goes through the same engine functions as the CLI and the bot API (tick, import,
assignment, review, model delete, retire); the demo only plays the operator and the clock. The
clock is `IGCTL_NOW`, which the in-process server reads on every request, so both see the same
time; the previous value is put back at the end.

This module starts a web server and bot threads, so it lives beside simulation.py rather than
in the engine (which knows nothing of HTTP).
"""

from __future__ import annotations

import json
import math
import os
import random
import struct
import tempfile
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from time import monotonic as _monotonic
from time import sleep as _sleep
from zoneinfo import ZoneInfo

from igctl import report_html
from igctl.botclient import BotClient
from igctl.botserver.serve import make_server, run
from igctl.engine.domain import accounts as engine_accounts
from igctl.engine.domain import bots as engine_bots
from igctl.engine.domain import content, proxies
from igctl.engine.flows import models, review, tick
from igctl.engine.store import changes
from igctl.engine.store.clock import Clock
from igctl.engine.store.migrations import STATES
from igctl.engine.store.workspace import init_workspace
from igctl.engine.views import reports
from igctl.simulation import Settings, Simulation

DEMO_TIMEZONE = "Europe/Berlin"
# The times of day (workspace zone) at which the demo's clock stops and the bots work what is
# due. Three hours apart: a warm-up retry (30–120 min) waits at most one stop, and a model's
# slot (inside its active hours, 10:00–22:00) is worked well within schedule.grace_hours (6).
STOPS = (8, 11, 14, 17, 20, 23)
# Failures the simulated bots draw at random: the kinds the queue retries by itself. Kinds that
# go to human review at once are shown once, on purpose (see `_challenge`); proxy_error is left
# out because repeated reports would (rightly) take a proxy out of service.
RETRYABLE_KINDS = ("ui_not_found", "action_blocked", "rate_limited", "device_offline", "other")
# While the phones work, one real second is CLOCK_SPEED simulated seconds (at most
# MAX_PHASE_SECONDS per stop, well before the next one).
CLOCK_SPEED = 600
MAX_PHASE_SECONDS = 2 * 3600
MAX_WARMUP_DAYS = 12
MAX_CLEANUP_DAYS = 3
WARMUP_STATES = ("imported", "proxy_assigned", "warming_up", "human_review")

FIRST_NAMES = ("lena", "mia", "sofia", "emma", "hanna", "lea", "clara", "nora", "ida", "ella", "lina", "marie")
LAST_NAMES = ("berg", "stone", "vogel", "klein", "hart", "wolf", "lang", "roth", "frey", "brandt")

STRATEGIES = {
    "alice": (
        "display_name: Alice (Berlin fitness)\n"
        "templates: false\n"
        "onboarding: [change_pfp, change_bio]\n"
        "schedule:\n"
        "  post: {per_week: 3}\n"
        "  story: {per_day: 1}\n"
        "  highlight: {per_week: 1}\n"
        'active_hours: "10:00-22:00"\n'
        "locations: [DE]\n"
    ),
    "bella": (
        "display_name: Bella (NYC food)\n"
        "templates: true\n"
        "onboarding: [change_pfp, change_bio]\n"
        "schedule:\n"
        "  post: {per_day: 1}\n"
        "  story: {per_day: 2}\n"
        'active_hours: "10:00-22:00"\n'
        "locations: [US]\n"
    ),
}
TEXTS = {
    "_templates": {
        "bio": ["Coffee first.", "Living one day at a time", "Sunsets and good books", "just me, sharing stuff"],
        "post": ["Good morning!", "Weekend vibes", "New week, new goals"],
        "story": ["today", "on my way", "look at this"],
        "highlight": ["Moments", "Travel", "Me"],
    },
    "alice": {
        "bio": [
            "Alice | Berlin | training every day",
            "Coach Alice - strong is the new pretty",
            "Berlin fitness, plans in DM",
        ],
        "post": ["Leg day done.", "5 km before breakfast", "Meal prep Sunday", "Rest day is part of the plan"],
        "story": ["gym time", "protein pancakes", "morning run"],
        "highlight": ["Workouts", "Food"],
    },
    "bella": {
        "bio": ["Bella eats NYC", "Brooklyn food diary", "Every pizza in Manhattan, one by one"],
        "post": ["Best bagel in town?", "Ramen night", "Brunch at the corner place", "Taco Tuesday"],
        "story": ["lunch!", "this place", "dessert time", "new menu"],
        "highlight": ["Pizza", "Brunch"],
    },
}
IMAGES = {
    "_templates": {"pfp": 3, "post": 3, "story": 3, "highlight": 2},
    "alice": {"pfp": 3, "post": 4, "story": 4, "highlight": 2},
    "bella": {"pfp": 3, "post": 4, "story": 4, "highlight": 2},
}


# -- generated sample data -----------------------------------------------------------------------
def png(width: int, height: int, rgb: tuple[int, int, int], seed: int = 0) -> bytes:
    """A valid RGB PNG: a diagonal gradient from `rgb`, different for every seed (no Pillow)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    r0, g0, b0 = rgb
    rows = bytearray()
    for y in range(height):
        rows.append(0)  # filter: none
        for x in range(width):
            shade = (x + y + seed) % 64
            rows += bytes(((r0 + shade) % 256, (g0 + shade // 2) % 256, (b0 + 2 * shade) % 256))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(rows), 9))
        + chunk(b"IEND", b"")
    )


def write_content(folder: Path, pool: str, rng: random.Random) -> int:
    """Images (PNG) and texts.yaml of one content pool; returns the number of images."""

    n = 0
    for kind, count in IMAGES[pool].items():
        (folder / kind).mkdir(parents=True, exist_ok=True)
        for i in range(1, count + 1):
            colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
            (folder / kind / f"{pool.strip('_')}-{kind}-{i}.png").write_bytes(png(48, 48, colour, seed=i))
            n += 1
    lines = [f"# Sample texts generated by `igctl demo` for {pool}."]
    lines += [f"{kind}: {json.dumps(texts, ensure_ascii=False)}" for kind, texts in TEXTS[pool].items()]
    (folder / "texts.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return n


def accounts_file(path: Path, n: int, rng: random.Random) -> list[str]:
    """`n` accounts, plus what a real file holds: a comment, a header, a bad line and a
    duplicate (both reported and skipped by the import). Returns the usernames."""
    names = []
    lines = ["# accounts bought for the demo (generated by igctl demo)", "username,password,email,email_password"]
    for i in range(1, n + 1):
        user = f"{FIRST_NAMES[i % len(FIRST_NAMES)]}.{LAST_NAMES[(i // len(FIRST_NAMES)) % len(LAST_NAMES)]}{i:03d}"
        names.append(user)
        lines.append(f"{user},Pw-{rng.randrange(10**8):08d}!,{user}@mail.example,Mail-{rng.randrange(10**6):06d}")
    lines.append("this line has no password")
    lines.append(f"{names[0].upper()},another-password,dup@mail.example")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return names


def proxies_file(path: Path, count: int, prefix: str) -> None:
    """Proxies on documentation addresses (RFC 5737): never contacted by the demo."""
    lines = [f"{prefix}.{i}:8000:demo{prefix.split('.')[-1]}u{i}:demo-proxy-pw-{i}" for i in range(1, count + 1)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


# -- the clock and the server --------------------------------------------------------------------
class DemoClock:
    """Moves `IGCTL_NOW`, the one clock of this process (and so of the in-process server)."""

    def __init__(self, tz: ZoneInfo):
        self.tz = tz
        self.now: datetime | None = None

    def set(self, when: datetime) -> datetime:
        self.now = when
        os.environ["IGCTL_NOW"] = when.isoformat()
        return when

    def at(self, day: date, hour: int, minute: int = 0) -> datetime:
        return self.set(datetime.combine(day, time(hour, minute), tzinfo=self.tz))


class _Server:
    """The bot API (cheroot, as `igctl serve-bots`) on a free loopback port, in a thread."""

    def __init__(self, ws, threads: int = 8):

        self.bound = make_server(ws, "127.0.0.1", 0, threads)
        host, port = self.bound.addresses[0]
        self.url = f"http://{host}:{port}"
        self.thread = threading.Thread(
            target=run, args=(self.bound,), kwargs={"install_signals": False, "drain_seconds": 5}, daemon=True
        )
        self.thread.start()

    def stop(self) -> None:
        self.bound.stop()
        self.thread.join(timeout=15)


# -- the story -----------------------------------------------------------------------------------
@dataclass
class Totals:
    claimed: int = 0
    completed: int = 0
    failed: int = 0
    conflicts: int = 0
    errors: int = 0
    images: int = 0

    def add(self, counts) -> None:
        for name in ("claimed", "completed", "failed", "conflicts", "errors", "images"):
            setattr(self, name, getattr(self, name) + getattr(counts, name))


@dataclass
class Demo:
    ws: object
    clock: DemoClock
    server_url: str
    tokens: list[str]
    actor: str
    say: Callable[[str], None]
    failure_rate: float
    seed: int
    totals: Totals = field(default_factory=Totals)
    timeline: list[dict] = field(default_factory=list)
    _runs: int = 0

    # -- working the queue ------------------------------------------------------------------
    def due(self) -> int:
        return self.ws.db().scalar(
            "SELECT COUNT(*) FROM tasks WHERE status = 'queued' AND due_at <= ?", [self.ws.now()]
        )

    def work(self) -> Totals:
        """A tick, then the simulated bots until none of them finds anything due."""

        tick.tick(self.ws)
        done = Totals()
        if not self.due():
            return done
        self._runs += 1
        settings = Settings(
            duration=120,
            failure_rate=self.failure_rate,
            work_ms=(0, 3),
            idle_wait=0.03,
            heartbeat_every=60,
            error_kinds=RETRYABLE_KINDS,
            stop_when_idle=0.15,
            seed=self.seed * 10_000 + self._runs,
            report_metrics=True,
            screenshots=True,
        )
        # Simulated time passes while the phones work, so claim → completion takes "seconds".
        start, began, working = self.clock.now, _monotonic(), threading.Event()
        working.set()

        def clock_runs():
            while working.is_set():
                elapsed = (_monotonic() - began) * CLOCK_SPEED
                self.clock.set(start + timedelta(seconds=min(elapsed, MAX_PHASE_SECONDS)))
                _sleep(0.005)

        mover = threading.Thread(target=clock_runs, daemon=True, name="demo-clock")
        mover.start()
        try:
            results = Simulation(self.server_url, self.tokens, settings).run()
        finally:
            working.clear()
            mover.join()
        for r in results:
            done.add(r.counts)
            if r.error:
                raise RuntimeError(f"simulated bot {r.name} stopped: {r.error}")
        self.totals.add(done)
        return done

    def day(self, day: date, *, morning: Callable[[], None] | None = None, label: str) -> Totals:
        """One simulated day: the operator's morning, then the bots at every stop."""
        done = Totals()
        for hour in STOPS:
            self.clock.at(day, hour)
            if hour == STOPS[0] and morning is not None:
                morning()
            done_now = self.work()
            done.claimed += done_now.claimed
            done.completed += done_now.completed
            done.failed += done_now.failed
        states = self.states()
        shown = ", ".join(f"{s} {n}" for s, n in states.items() if n)
        self.say(f"  {day:%a %d %b}  {label}: {done.completed} tasks done, {done.failed} failed  │ {shown}")
        self.timeline.append(
            {
                "day": day.isoformat(),
                "phase": label,
                "completed": done.completed,
                "failed": done.failed,
                "states": states,
            }
        )
        return done

    def states(self) -> dict:

        counts = dict(self.ws.db().query("SELECT lifecycle_state, COUNT(*) FROM accounts GROUP BY 1"))
        return {s: counts.get(s, 0) for s in STATES}

    # -- the operator --------------------------------------------------------------------------
    def resolve_reviews(self) -> list[dict]:

        if not self.ws.db().scalar("SELECT COUNT(*) FROM accounts WHERE lifecycle_state = 'human_review'"):
            return []
        done = review.resolve(self.ws, all_=True, note="checked on the phone and done by hand (demo)", actor=self.actor)
        for r in done:
            self.say(
                f"    operator: resolved {r['kind']} {r['step_name']} of {r['username']} by hand → {r['account_state']}"
            )
        return done

    def challenge(self) -> str | None:
        """One bot meets a challenge screen: over HTTP, the step fails with `challenge` and the
        account goes to human review at once."""

        for token in self.tokens:
            client = BotClient(self.server_url, token)
            try:
                task = client.next_task()
                if task is None:
                    continue
                client.fail(
                    task["task_id"],
                    "Instagram asks for a confirmation code",
                    error_kind="challenge",
                    error_details={"screen": "challenge_required", "simulated": True},
                    requires_review=True,
                )
                user = task["account"]["username"]
                self.say(f"    a bot met a challenge on {user} ({task['step_name']}): sent to human review")
                return user
            finally:
                client.close()
        return None


def _local_start(tz: ZoneInfo) -> date:
    """The demo's first day: today in the workspace zone (by IGCTL_NOW when it is set)."""

    return Clock(tz).now().astimezone(tz).date()


def run_demo(
    path: Path | None = None,
    *,
    accounts: int = 30,
    days: int = 7,
    bots: int = 3,
    failure_rate: float = 0.05,
    seed: int = 1,
    actor: str = "user:demo",
    say: Callable[[str], None] = print,
) -> dict:
    """Run the whole demo (see the module) and return `{"workspace", "html_report", "server",
    "accounts", "days", "bots", "tasks": {claimed, completed, failed, …}, "timeline", "report"}`
    — `report` is `engine.reports.build_report()` of the finished workspace. `path` must be a
    new or empty folder (default: a new temporary folder)."""

    if accounts < 3:
        raise ValueError("the demo needs at least 3 accounts")
    tz = ZoneInfo(DEMO_TIMEZONE)
    rng = random.Random(seed)
    previous_now = os.environ.get("IGCTL_NOW")
    clock = DemoClock(tz)
    first_day = _local_start(tz)
    clock.at(first_day, 7)
    if path is None:
        path = Path(tempfile.mkdtemp(prefix="igctl-demo-")) / "workspace"
    server = None
    try:
        ws = init_workspace(Path(path), DEMO_TIMEZONE, actor=actor)
        db = ws.db()
        with db.write():
            changes.record(
                ws,
                db,
                changes.Command(
                    "demo", actor, "cli", details={"accounts": accounts, "days": days, "bots": bots, "seed": seed}
                ),
            )
        say(f"Workspace {ws.path} (time zone {DEMO_TIMEZONE}); the clock starts {first_day:%a %d %b %Y} 07:00.")

        with tempfile.TemporaryDirectory(prefix="igctl-demo-files-") as tmp:
            tmp = Path(tmp)
            # content for the warm-up (templates) and the two models, with their strategies
            images = write_content(ws.content_dir / "_templates", "_templates", rng)
            for name, strategy in STRATEGIES.items():
                (tmp / f"{name}.yaml").write_text(strategy, encoding="utf-8")
                created = models.create(ws, name, strategy_file=tmp / f"{name}.yaml", actor=actor)
                images += write_content(ws.content_dir / created["slug"], name, rng)
            synced = content.sync(ws, actor=actor)
            say(
                f"Content: {images} generated images and the text pools of _templates, alice and bella "
                f"({synced['images_added']} images and {synced['texts_added']} texts synced)."
            )

            # proxies in two locations: a few more slots than accounts
            de = math.ceil(math.ceil(accounts / 2) / 3) + 1
            us = math.ceil((accounts // 2) / 3) + 1
            proxies_file(tmp / "proxies-de.txt", de, "203.0.113")
            proxies_file(tmp / "proxies-us.txt", us, "198.51.100")
            proxies.import_file(
                ws, tmp / "proxies-de.txt", provider="demo-proxies", location="DE", cost=4.5, actor=actor
            )
            proxies.import_file(
                ws, tmp / "proxies-us.txt", provider="demo-proxies", location="US", cost=6.0, actor=actor
            )
            say(f"Proxies: {de} in DE, {us} in US (3 accounts each at most).")

            usernames = accounts_file(tmp / "accounts.txt", accounts, rng)
            imported = engine_accounts.import_file(ws, tmp / "accounts.txt", assign=False, actor=actor)
            say(
                f"Import: {imported['imported']} accounts; {len(imported['invalid'])} invalid line and "
                f"{len(imported['duplicates'])} duplicate reported and skipped."
            )
        # as `proxy auto-assign --location`: the first half of the fleet in DE, the rest in US
        half = math.ceil(accounts / 2)
        in_de = proxies.auto_assign(ws, location="DE", usernames=usernames[:half], actor=actor)["assigned"]
        in_us = proxies.auto_assign(ws, location="US", usernames=usernames[half:], actor=actor)["assigned"]
        say(f"Proxies assigned: {in_de} accounts on DE proxies, {in_us} on US proxies (packed, fullest first).")

        slots = math.ceil(accounts / bots) + 2
        tokens = [engine_bots.add(ws, f"phone-{i}", slots=slots, actor=actor)["token"] for i in range(1, bots + 1)]
        server = _Server(ws)
        say(
            f"Bot API on {server.url}; {bots} simulated phones (phone-1 … phone-{bots}, {slots} slots each), "
            f"failure rate {failure_rate:.0%}."
        )
        demo = Demo(ws, clock, server.url, tokens, actor, say, failure_rate, seed)

        # -- warm-up ---------------------------------------------------------------------------
        say("Warm-up: one step per account and calendar day (pfp, bio, highlight, story, post).")
        challenged: list[str] = []

        def warmup_morning(day_number: int):
            def morning():
                demo.resolve_reviews()
                if day_number == 1:
                    tick.tick(ws)  # today's steps in the queue, so the challenge meets one
                    user = demo.challenge()
                    if user:
                        challenged.append(user)

            return morning

        day = first_day
        for n in range(MAX_WARMUP_DAYS):
            demo.day(day, morning=warmup_morning(n), label=f"warm-up day {n + 1}")
            day += timedelta(days=1)
            if not any(demo.states()[s] for s in WARMUP_STATES):
                break

        # -- models -------------------------------------------------------------------------------
        clock.at(day, 7, 30)
        demo.resolve_reviews()
        ready_de = ws.db().scalar(
            """SELECT COUNT(*) FROM accounts a JOIN proxies p ON p.id = a.proxy_id
               WHERE a.lifecycle_state = 'ready' AND p.location = 'DE'"""
        )
        assigned = {"alice": [], "bella": []}
        # as `model assign alice --count N`, then bella takes the rest (US preferred); a ready
        # account whose proxy already serves alice can only go to alice: a last pass takes those
        for name, count in (("alice", ready_de), ("bella", accounts), ("alice", accounts)):
            if count and demo.states()["ready"]:
                assigned[name] += models.assign(ws, name, count=count, actor=actor)["assigned"]
        say(
            f"Assigned {len(assigned['alice'])} ready accounts to alice (DE proxies preferred) and "
            f"{len(assigned['bella'])} to bella (US); onboarding (pfp, bio) is queued at once."
        )
        for n in range(days):
            demo.day(day, morning=demo.resolve_reviews if n else None, label=f"posting day {n + 1}")
            day += timedelta(days=1)

        # -- a retirement and a model deleted -------------------------------------------------------
        clock.at(day, 7, 30)
        demo.resolve_reviews()
        banned = assigned["alice"][:1] or assigned["bella"][:1]
        if banned:
            engine_accounts.retire(ws, banned, reason="banned by Instagram (demo)", actor=actor)
            say(f"Retired {banned[0]}: banned (its proxy slot and phone slot are free again).")
        deleted = models.delete(ws, "bella", actor=actor)
        say(
            f"Deleted model bella: {len(deleted['cleanup'])} account(s) go through cleanup "
            "(reset_pfp, reset_bio, delete_posts) and back to ready."
        )
        for n in range(MAX_CLEANUP_DAYS):
            demo.day(
                day, morning=demo.resolve_reviews if n else None, label="cleanup" if not n else f"cleanup day {n + 1}"
            )
            day += timedelta(days=1)
            if not demo.states()["cleanup"]:
                break

        # -- the report ---------------------------------------------------------------------------

        report = reports.build_report(ws)
        html = ws.path / "report.html"
        html.write_text(report_html.render(report, title="igctl demo report"), encoding="utf-8")
        return {
            "workspace": str(ws.path),
            "html_report": str(html),
            "server": server.url,
            "accounts": accounts,
            "usernames": usernames,
            "days": days,
            "bots": bots,
            "challenged": challenged,
            "tasks": {
                k: getattr(demo.totals, k) for k in ("claimed", "completed", "failed", "conflicts", "errors", "images")
            },
            "timeline": demo.timeline,
            "report": report,
        }
    finally:
        if server is not None:
            server.stop()
        if previous_now is None:
            os.environ.pop("IGCTL_NOW", None)
        else:
            os.environ["IGCTL_NOW"] = previous_now
