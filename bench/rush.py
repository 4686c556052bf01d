"""The booking rush (issue 13) against a real server: 10,000 attempts on 100 slots, 200 clients.

For each database (SQLite in a fresh data directory; PostgreSQL at 127.0.0.1:5432 when it
answers, in a database created for the run and dropped after it) this module:

1. prepares a fresh installation (``madoguchi bootstrap``) with one published facility of
   100 open slots (20 courts × 5 days), 200 residents with an approved 利用者登録 and an API
   token each;
2. starts granian as ``madoguchi serve`` does: one worker per core, ``--threads`` (default 4)
   requests working at once per worker (``MADOGUCHI_MAX_INFLIGHT``) and spare threads that
   answer the excess with 503 at once (admission control, ``madoguchi.core.admission``);
3. drives it with 200 concurrent clients (asyncio, keep-alive HTTP/1.1), each from its own
   loopback address (127.0.0.2 …, so the per-address limit sees 200 clients, as it would on
   the internet) and as its own resident: 10,000 ``POST /api/v1/reservations/`` in all, each
   on a random slot with a fresh ``Idempotency-Key``; after a 201 the client confirms
   (``POST /reservations/{id}/confirm/``, retried on 503 until answered). After a 503 a
   client waits the ``Retry-After`` it was given (as the page asks a person to, and as a
   polite app does; the 503 itself counts as an attempt); after a 429 it does not wait (a
   bot ignoring the rate limit is refused again at once);
4. in the same run, the baseline: 10,000 ``GET /healthz`` at the same concurrency (one
   database round trip, no admission control);
5. stops the server and proves from the database: exactly 100 confirmed bookings, one per slot
   (and one claim each), no booking left held, and every booking whose confirmation was
   acknowledged (201 then 200 "confirmed") exists exactly once, confirmed, for that resident
   ("0 lost confirmations").

Printed: attempts per second (and baseline requests per second), p50/p99 of the attempts,
how many got 201, 409 (taken), 429 (rate limits: 30 a minute per account, 120 per address)
and 503 (admission control).

``BENCH_QUICK=1`` makes 2,000 attempts instead of 10,000 (``BENCH_RUSH_ATTEMPTS`` sets it);
``BENCH_RUSH_THREADS`` the threads per worker (default 4); ``BENCH_DATABASES=sqlite`` or
``postgresql`` runs one only.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.error import URLError
from urllib.request import urlopen

from _databases import Database, discard, prepare, say
from _harness import Result, Settings, Timing, duration

TITLE = "Booking rush: POST /api/v1/reservations/ (+ confirm) over HTTP, 200 clients, 100 slots"
NOTES: list[str] = []

BIN = Path(sys.executable).parent
CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
CLIENTS = 200
SLOTS = 100
THREADS = int(os.environ.get("BENCH_RUSH_THREADS", "4"))


def _attempts() -> int:
    raw = os.environ.get("BENCH_RUSH_ATTEMPTS")
    if raw:
        return int(raw)
    return 2_000 if os.environ.get("BENCH_QUICK") else 10_000


SETUP = r"""
import io, json, secrets, sys
from datetime import datetime, time, timedelta
import django
django.setup()
from django.core.management import call_command
from madoguchi.core.time import TOKYO, now, to_tokyo
from madoguchi.identity.models import User
from madoguchi.identity.tokens import access_token_create
from madoguchi.reservations.constants import ResourceKind, SlotState, RegistrationStatus
from madoguchi.reservations.models import Facility, Registration, Resource, Slot
from madoguchi.tenants.models import Organisation

call_command("bootstrap", stdout=io.StringIO())
org = Organisation.objects.get(lg_code="141003")
facility = Facility.objects.create(organisation=org, name="ラッシュ体育館", published=True)
courts = [
    Resource.objects.create(organisation=org, facility=facility, name=f"コート{n + 1}",
                            kind=ResourceKind.COURT, order=n)
    for n in range(20)
]
first = to_tokyo(now()).date() + timedelta(days=7)
slots = []
for day in range(5):
    date = first + timedelta(days=day)
    for court in courts:
        slots.append(Slot(organisation=org, facility=facility, resource=court, date=date,
                          starts_at=datetime.combine(date, time(9), TOKYO),
                          ends_at=datetime.combine(date, time(12), TOKYO),
                          state=SlotState.OPEN, fee=1000))
Slot.objects.bulk_create(slots)
users = []
for n in range(int(sys.argv[1])):
    user = User(email=f"rush{n}@example.jp", email_verified_at=now())
    user.set_unusable_password()
    users.append(user)
User.objects.bulk_create(users)
users = list(User.objects.filter(email__startswith="rush").order_by("pk"))
Registration.objects.bulk_create(
    Registration(organisation=org, user=user, kind="individual", number=f"R{n:06d}",
                 name=f"利用者{n}", status=RegistrationStatus.APPROVED)
    for n, user in enumerate(users)
)
tokens = [access_token_create(user=u, name="rush", scopes=["applications"], now=now())[1]
          for u in users]
print("BENCH-SETUP " + json.dumps({
    "slots": list(Slot.objects.filter(facility=facility).values_list("pk", flat=True)),
    "tokens": tokens, "users": [u.pk for u in users]}))
"""


def _setup(db: Database) -> dict[str, Any]:
    done = subprocess.run(  # noqa: S603 (our interpreter, our script)
        [sys.executable, "-c", SETUP, str(CLIENTS)],
        env=db.env,
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    for line in done.stdout.splitlines():
        if line.startswith("BENCH-SETUP "):
            result: dict[str, Any] = json.loads(line.removeprefix("BENCH-SETUP "))
            return result
    raise AssertionError(f"setup failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _start(db: Database, port: int) -> subprocess.Popen[bytes]:
    """granian as ``madoguchi serve`` starts it (threads + spare threads for the 503s)."""
    env = dict(db.env, MADOGUCHI_MAX_INFLIGHT=str(THREADS))
    server = subprocess.Popen(  # noqa: S603 (our executable, fixed arguments)
        [
            str(BIN / "granian"),
            "--interface",
            "wsgi",
            "--host",
            "0.0.0.0",  # noqa: S104 (loopback clients from 127.0.0.2 …; a throw-away server)
            "--port",
            str(port),
            "--workers",
            str(CORES),
            "--blocking-threads",
            str(THREADS + max(4, THREADS)),
            "--backlog",
            "2048",
            "--log-level",
            "warning",
            "madoguchi.conf.wsgi:application",
        ],
        env=env,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"granian stopped with {server.returncode}")
        try:
            with urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                if response.status == 200:
                    return server
        except (URLError, OSError):
            pass
        time.sleep(0.2)
    _stop(server)
    raise AssertionError("granian did not answer /healthz within 60 s")


def _stop(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


class _Connection:
    """One keep-alive HTTP/1.1 connection from a chosen loopback address."""

    def __init__(self, port: int, source: str) -> None:
        self.port = port
        self.source = source
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.headers: dict[str, str] = {}

    async def request(
        self, method: str, path: str, headers: dict[str, str], body: bytes = b""
    ) -> tuple[int, bytes]:
        """(status, body); the response's headers are left in ``self.headers``."""
        if self.writer is None or self.reader is None:
            self.reader, self.writer = await asyncio.open_connection(
                "127.0.0.1", self.port, local_addr=(self.source, 0)
            )
        head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        head += f"Content-Length: {len(body)}\r\n\r\n"
        try:
            self.writer.write(head.encode() + body)
            raw = await self.reader.readuntil(b"\r\n\r\n")
            lines = raw.decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ", 2)[1])
            found = {
                name.strip().lower(): value.strip()
                for name, _, value in (line.partition(":") for line in lines[1:] if line)
            }
            content = await self.reader.readexactly(int(found.get("content-length", "0")))
        except BaseException:
            self.close()
            raise
        if found.get("connection", "").lower() == "close":
            self.close()
        self.headers = found
        return status, content

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


@dataclass
class Phase:
    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0
    statuses: Counter[str] = field(default_factory=Counter)
    #: booking id → (user id, number) of every booking whose confirmation was acknowledged.
    confirmed: dict[int, tuple[int, str]] = field(default_factory=dict)
    confirm_retries: int = 0
    unconfirmed: int = 0


async def _rush(port: int, prepared: dict[str, Any], attempts: int, phase: Phase) -> None:
    slots: list[int] = prepared["slots"]
    remaining = [attempts]
    rng = random.Random(20260401)  # noqa: S311 (which slot a client tries, not a secret)

    async def client(index: int) -> None:
        token, user = prepared["tokens"][index], prepared["users"][index]
        source = f"127.0.{index // 250}.{index % 250 + 2}"
        connection = _Connection(port, source)
        auth = {"Authorization": f"Bearer {token}"}
        try:
            while remaining[0] > 0:
                remaining[0] -= 1
                body = json.dumps({"slot": rng.choice(slots)}).encode()
                headers = {
                    **auth,
                    "Content-Type": "application/json",
                    "Idempotency-Key": f"rush-{index}-{remaining[0]}-{rng.getrandbits(40)}",
                }
                started = time.perf_counter()
                try:
                    status, content = await asyncio.wait_for(
                        connection.request("POST", "/api/v1/reservations/", headers, body), 60
                    )
                except (OSError, asyncio.IncompleteReadError, TimeoutError) as error:
                    phase.statuses[type(error).__name__] += 1
                    continue
                phase.latencies.append(time.perf_counter() - started)
                phase.statuses[str(status)] += 1
                if status == 503:  # as the page asks a person, and a polite app does
                    await asyncio.sleep(_retry_after(connection))
                if status != 201:
                    continue
                booking = json.loads(content)
                await _confirm(connection, auth, booking, user, phase)
        finally:
            connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(CLIENTS)))
    phase.seconds += time.perf_counter() - started


def _retry_after(connection: _Connection) -> float:
    try:
        return min(float(connection.headers.get("retry-after", "1")), 30.0)
    except ValueError:
        return 1.0


async def _confirm(
    connection: _Connection, auth: dict[str, str], booking: dict[str, Any], user: int, phase: Phase
) -> None:
    path = f"/api/v1/reservations/{booking['id']}/confirm/"
    for _ in range(200):
        try:
            status, content = await asyncio.wait_for(connection.request("POST", path, auth), 60)
        except (OSError, asyncio.IncompleteReadError, TimeoutError):
            status, content = 0, b""
        if status == 200 and json.loads(content)["status"] == "confirmed":
            phase.confirmed[booking["id"]] = (user, booking["number"])
            return
        if status not in (0, 503):
            break
        phase.confirm_retries += 1
        await asyncio.sleep(_retry_after(connection) if status else 0.05)
    phase.unconfirmed += 1


async def _baseline(port: int, requests: int, phase: Phase) -> None:
    remaining = [requests]

    async def client(index: int) -> None:
        connection = _Connection(port, f"127.0.{index // 250}.{index % 250 + 2}")
        try:
            while remaining[0] > 0:
                remaining[0] -= 1
                started = time.perf_counter()
                try:
                    status, _ = await asyncio.wait_for(
                        connection.request("GET", "/healthz", {}), 60
                    )
                except (OSError, asyncio.IncompleteReadError, TimeoutError) as error:
                    phase.statuses[type(error).__name__] += 1
                    continue
                phase.latencies.append(time.perf_counter() - started)
                phase.statuses[str(status)] += 1
        finally:
            connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(CLIENTS)))
    phase.seconds += time.perf_counter() - started


def _rows(db: Database, sql: str) -> list[tuple[Any, ...]]:
    if db.pg_name:
        import psycopg

        with psycopg.connect(db.env["MADOGUCHI_DATABASE_URL"]) as conn:
            return list(conn.execute(sql).fetchall())  # type: ignore[arg-type]
    with sqlite3.connect(db.data_dir / "madoguchi.sqlite3") as conn:
        return list(conn.execute(sql).fetchall())


def _prove(db: Database, phase: Phase) -> str:
    rows = _rows(db, "SELECT id, user_id, number, status, slot_id FROM reservations_booking")
    by_id = {row[0]: row for row in rows}
    confirmed = [row for row in rows if row[3] == "confirmed"]
    per_slot = Counter(row[4] for row in confirmed)
    (claims,) = _rows(db, "SELECT COUNT(*) FROM reservations_claim")[0]
    held = sum(1 for row in rows if row[3] == "held")
    lost = [
        booking_id
        for booking_id, (user, number) in phase.confirmed.items()
        if by_id.get(booking_id, (None, None, None, None))[1:4] != (user, number, "confirmed")
    ]
    numbers = Counter(row[2] for row in rows)
    assert not lost, f"{db.label}: {len(lost)} acknowledged confirmations not stored"
    assert all(n == 1 for n in numbers.values()), f"{db.label}: a booking number twice"
    assert len(confirmed) == SLOTS, f"{db.label}: {len(confirmed)} confirmed bookings"
    assert set(per_slot.values()) == {1}, f"{db.label}: a slot booked twice"
    assert claims == SLOTS, f"{db.label}: {claims} claims"
    assert held == 0, f"{db.label}: {held} left held"
    assert phase.unconfirmed == 0, f"{db.label}: {phase.unconfirmed} holds not confirmed"
    return (
        f"{db.label} proof: exactly {len(confirmed)} bookings for {SLOTS} slots (one each, "
        f"{claims} claims, none left held); {len(phase.confirmed)} acknowledged confirmations, "
        f"0 lost ({phase.confirm_retries} confirmations retried after a 503)"
    )


def _timing(phase: Phase) -> Timing:
    samples = phase.latencies or [float("nan")]
    return Timing(
        median=statistics.median(samples),
        p95=statistics.quantiles(samples, n=100, method="inclusive")[94]
        if len(samples) > 1
        else samples[0],
        calls=len(samples),
        rounds=1,
        spread=1.0,
    )


def _p(phase: Phase, n: int) -> float:
    if len(phase.latencies) < 2:
        return float("nan")
    return statistics.quantiles(phase.latencies, n=100, method="inclusive")[n - 1]


def _run_database(db: Database, attempts: int) -> list[Result]:
    say(f"rush {db.label}: preparing a fresh installation")
    prepared = _setup(db)
    port = _free_port()
    server = _start(db, port)
    figure, base = Phase(), Phase()
    try:
        warm = Phase()
        asyncio.run(_baseline(port, 400, warm))  # every worker thread opens its connection
        say(f"rush {db.label}: {attempts} attempts from {CLIENTS} clients")
        asyncio.run(_rush(port, prepared, attempts, figure))
        say(f"rush {db.label}: baseline, {attempts} GET /healthz")
        asyncio.run(_baseline(port, attempts, base))
    finally:
        _stop(server)
    proof = _prove(db, figure)
    s = figure.statuses
    tried = sum(s.values())
    admitted = tried - s["503"]
    other = {k: v for k, v in s.items() if k not in ("201", "409", "429", "503")}
    NOTES.extend(
        [
            f"{db.label}: {tried / figure.seconds:.0f} attempts/s over {figure.seconds:.1f} s, "
            f"{admitted / figure.seconds:.0f}/s admitted past the 503 "
            f"(baseline GET /healthz {sum(base.statuses.values()) / base.seconds:.0f}/s); "
            f"latency p50 {duration(_p(figure, 50))}, p99 {duration(_p(figure, 99))} "
            f"(baseline p50 {duration(_p(base, 50))}, p99 {duration(_p(base, 99))})",
            f"    of {tried} attempts: 201 held {s['201']}, 409 taken {s['409']}, "
            f"429 rate-limited {s['429']}, 503 admission control {s['503']}"
            + (f", other {dict(other)}" if other else "")
            + f"; baseline non-200: {sum(v for k, v in base.statuses.items() if k != '200')}",
            f"    {proof}",
        ]
    )
    return [
        Result(f"{db.label}, {CLIENTS} clients", _timing(figure), _timing(base), "GET /healthz")
    ]


def run(settings: Settings) -> list[Result]:
    attempts = _attempts()
    NOTES.clear()
    NOTES.append(
        f"granian: {CORES} workers × {THREADS} threads admitted (MADOGUCHI_MAX_INFLIGHT) + "
        f"{max(4, THREADS)} spare; {attempts} attempts on {SLOTS} slots from {CLIENTS} clients "
        "(each its own resident and loopback address), confirm after each 201; "
        "baseline = GET /healthz at the same concurrency."
    )
    results: list[Result] = []
    for kind in ("sqlite", "postgresql"):
        if kind not in os.environ.get("BENCH_DATABASES", "sqlite,postgresql"):
            continue
        db = prepare(kind, "rush")
        if db is None:
            NOTES.append(f"{kind}: not reachable, skipped")
            continue
        try:
            results.extend(_run_database(db, attempts))
        finally:
            discard(db)
    return results
