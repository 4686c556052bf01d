"""Submissions over HTTP against a real server: throughput, latency, and proof of exactly once.

For each database (SQLite in a fresh data directory; PostgreSQL at 127.0.0.1:5432 when it
answers, in a database created for the run and dropped after it) this module:

1. prepares a fresh installation (``madoguchi bootstrap``: migrations, organisation master,
   national templates) and publishes one procedure that guests may apply for (粗大ごみ, ial 1);
2. starts granian as ``madoguchi serve`` does, one worker per core, with
   ``MADOGUCHI_BENCH_ENDPOINTS=1`` for the baseline;
3. drives it with 16 and then 64 concurrent clients (asyncio, keep-alive HTTP/1.1), each
   client sending ``POST /api/v1/applications/`` back to back; 5% of the requests replay an
   earlier ``Idempotency-Key`` and must get the same receipt with 200;
4. in the same run, alternating with the figure, drives two baselines:
   ``POST /api/v1/bench/insert-only/``: the same inserts in one transaction (application,
   revision, audit event, outbox row), without authentication, validation,
   encryption or the idempotency look-up; and ``POST /api/v1/bench/one-insert/``: one durable
   INSERT of one small row, the floor of any request that stores something;
   for each it reports throughput, p99 and CPU per request of the server processes, of
   PostgreSQL's backends (by pid from pg_stat_activity, /proc) and of the whole machine
   (/proc/stat: every process, the load generator and the other tenants of a shared machine
   included);
5. stops the server and proves from the database that every acknowledged receipt exists
   exactly once (by receipt and by idempotency key), that no replay created a row, and
   that every application has its revision, audit event and outbox row, and that the
   statistics (derived from the applications, no counter row) count each exactly once;
6. profiles 300 submissions in one process (Django's test client, same database) to show
   where the time of one submission goes, and counts the statements one submission sends.

``BENCH_QUICK=1`` runs 4 s per level instead of 8 (``BENCH_SUBMISSION_SECONDS`` sets it);
``BENCH_POSTGRES_URL`` names the server's maintenance database (default
``postgres://postgres@127.0.0.1:5432/postgres``); ``BENCH_DATABASES=sqlite`` or
``postgresql`` runs one only.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import secrets
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.error import URLError
from urllib.parse import urlsplit
from urllib.request import urlopen

from _harness import Result, Settings, Timing, duration

TITLE = "POST /api/v1/applications/ over HTTP (granian), 16 and 64 clients; latency per request"
#: Filled in by ``run``: throughput, p99, errors, the proof, the profile.
NOTES: list[str] = []

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
LEVELS = (16, 64)
REPLAY_SHARE = 0.05
GUEST_EMAIL = "bench@example.jp"
#: Python threads per granian worker: enough to keep the database busy while others wait
#: for their commit, few enough that the GIL is not thrashed.
THREADS = int(os.environ.get("BENCH_THREADS", "8"))
ROUNDS = 2
#: The mailed guest code of the installation under test (X-Guest-Token), set by its setup.
GUEST_TOKEN: list[str] = [""]


def _seconds() -> float:
    raw = os.environ.get("BENCH_SUBMISSION_SECONDS")
    if raw:
        return float(raw)
    return 4.0 if os.environ.get("BENCH_QUICK") else 8.0


def _say(line: str) -> None:
    print(f"  … {line}", file=sys.stderr, flush=True)  # noqa: T201  (progress of a long run)


# --- The server under test --------------------------------------------------------------------

SETUP = r"""
import io, json, sys
import django
django.setup()
from django.core.management import call_command
from madoguchi.catalog.constants import ProcedureStatus
from madoguchi.catalog.selectors import template_version_get
from madoguchi.applications.publishing import procedure_set_status
from madoguchi.catalog.services import procedure_adopt
from madoguchi.core.time import now, to_tokyo
from madoguchi.forms.base import Context, field_types
from madoguchi.forms.engine import validate
from madoguchi.forms.selectors import form_spec
from madoguchi.tenants.models import Organisation

call_command("bootstrap", stdout=io.StringIO())
org = Organisation.objects.get(lg_code="141003")
proc = procedure_adopt(organisation=org, template_version=template_version_get(slug="sodai-gomi"), now=now())
proc = procedure_set_status(organisation=org, procedure=proc, status=ProcedureStatus.PUBLISHED)
spec = form_spec(proc.form_version)
today = to_tokyo(now()).date()
ctx = Context(today=today)
answers = {}
for f in spec.fields:
    t = field_types[f.type]
    if f.type == "group":
        answers[f.key] = [
            {c.key: field_types[c.type].example(c, ctx) for c in f.fields
             if field_types[c.type].has_value and c.type != "computed"}
            for _ in range(3)
        ]
    elif t.has_value and f.type != "computed":
        answers[f.key] = t.example(f, ctx)
for path in list(validate(spec, answers, today=today).errors):
    top, _, rest = path.partition("[")
    if rest and "]." in rest:
        index, _, child = rest.partition("].")
        answers[top][int(index)].pop(child.split(".")[0], None)
    else:
        answers.pop(path.split(".")[0], None)
assert validate(spec, answers, today=today).ok
from madoguchi.identity.services import guest_email_token_make
# A guest proves the mailbox first (as an app would, with the mailed code).
code = guest_email_token_make(email="bench@example.jp", procedure_id=proc.pk)
print("BENCH-SETUP " + json.dumps({"procedure": proc.pk, "answers": answers, "guest_token": code}, ensure_ascii=False))
"""

PROFILE = r"""
import cProfile, json, pstats, re, secrets, sys, time
import django
django.setup()
from django.test import Client

body = sys.stdin.read()
client = Client(HTTP_HOST="127.0.0.1")
guest_token = sys.argv[2]
def one():
    r = client.post("/api/v1/applications/", data=body, content_type="application/json",
                    headers={"Idempotency-Key": secrets.token_urlsafe(24),
                             "X-Guest-Token": guest_token})
    assert r.status_code == 201, r.content[:300]
for _ in range(30):
    one()
from django.db import connection
from django.test.utils import CaptureQueriesContext
with CaptureQueriesContext(connection) as captured:
    one()
control = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")
statements = [q["sql"] for q in captured.captured_queries
              if not q["sql"].lstrip().upper().startswith(control)]
count = int(sys.argv[1])
started = time.perf_counter()
for _ in range(count):
    one()
plain = (time.perf_counter() - started) / count
profile = cProfile.Profile()
profile.enable()
for _ in range(count):
    one()
profile.disable()
stats = pstats.Stats(profile).stats
wanted = {
    ("api/applications.py", "submit_application"): "view (everything below)",
    ("api/applications.py", "_json_body"): "read and check the JSON body",
    ("catalog/selectors.py", "published_procedure_get"): "procedure look-up",
    ("forms/engine.py", "validate"): "validation (forms engine)",
    ("applications/services.py", "protect_answers"): "encrypting My Number",
    ("applications/services.py", "canonical_digest"): "SHA-256 of the answers",
    ("base/base.py", "_commit"): "COMMIT (WAL flush)",
    ("backends/utils.py", "_execute"): "SQL statements (driver + server)",
    ("audit/services.py", "audit_record"): "audit event",
    ("notifications/services.py", "outbox_enqueue_email"): "outbox row",
    ("ninja/operation.py", "_result_to_response"): "rendering the response",
}
found = {}
for (path, line, name), (cc, nc, tt, ct, callers) in stats.items():
    for (suffix, function), label in wanted.items():
        if name == function and path.endswith(suffix):
            found[label] = found.get(label, 0.0) + ct
total = sum(tt for (cc, nc, tt, ct, callers) in stats.values())
print("BENCH-PROFILE " + json.dumps({"plain": plain, "total": total / count,
      "parts": {k: v / count for k, v in found.items()},
      "statements": [sql.split()[0] + " " + (re.search(r'(?:FROM|INTO|UPDATE) "?(\w+)', sql)
                                              or re.match("(.)", "?")).group(1)
                     for sql in statements]}))
"""


@dataclass
class Database:
    label: str
    env: dict[str, str]
    data_dir: Path
    pg_name: str = ""
    pg_admin: str = ""


def _postgres_admin() -> str | None:
    url = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5432), 1):
            pass
    except OSError:
        return None
    return url


def _pg(url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


def _databases() -> list[str]:
    chosen = os.environ.get("BENCH_DATABASES", "sqlite,postgresql").split(",")
    return [name.strip() for name in chosen if name.strip()]


def _prepare(kind: str) -> Database | None:
    base = ROOT / "var" / "bench"
    base.mkdir(parents=True, exist_ok=True)
    data_dir = Path(tempfile.mkdtemp(prefix="submissions-", dir=base))
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("MADOGUCHI_") and key != "DJANGO_SETTINGS_MODULE"
    }
    env.update(
        DJANGO_SETTINGS_MODULE="madoguchi.conf.settings",
        MADOGUCHI_DATA_DIR=str(data_dir),
        MADOGUCHI_BENCH_ENDPOINTS="1",
        MADOGUCHI_LOG_LEVEL="WARNING",
    )
    if kind == "sqlite":
        return Database("SQLite", env, data_dir)
    admin = _postgres_admin()
    if admin is None:
        shutil.rmtree(data_dir, ignore_errors=True)
        return None
    name = f"madoguchi_bench_{os.getpid()}"
    _pg(admin, f"DROP DATABASE IF EXISTS {name}")
    _pg(admin, f"CREATE DATABASE {name}")
    parts = urlsplit(admin)
    env["MADOGUCHI_DATABASE_URL"] = parts._replace(path=f"/{name}").geturl()
    return Database("PostgreSQL", env, data_dir, name, admin)


def _discard(db: Database) -> None:
    if db.pg_name:
        _pg(db.pg_admin, f"DROP DATABASE IF EXISTS {db.pg_name} WITH (FORCE)")
    shutil.rmtree(db.data_dir, ignore_errors=True)


def _setup(db: Database) -> dict[str, Any]:
    done = subprocess.run(  # noqa: S603 (our interpreter, our script)
        [sys.executable, "-c", SETUP],
        env=db.env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
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
    server = subprocess.Popen(  # noqa: S603 (our executable, fixed arguments)
        [
            str(BIN / "granian"),
            "--interface",
            "wsgi",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(CORES),
            "--blocking-threads",
            str(THREADS),
            "--backlog",
            "1024",
            "--log-level",
            "warning",
            "madoguchi.conf.wsgi:application",
        ],
        env=db.env,
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


def _cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of these processes (and their reaped children) from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def _machine_cpu_seconds() -> float:
    """CPU time the whole machine spent busy (every core, every process), from /proc/stat."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return 0.0
    ticks = [int(value) for value in fields]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)  # idle + iowait
    busy = sum(ticks[:8]) - idle  # user nice system idle iowait irq softirq steal
    return busy / os.sysconf("SC_CLK_TCK")


def _group_pids(pgid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid:
                pids.append(int(entry.name))
    return pids


def _pg_backends(db: Database) -> list[int]:
    if not db.pg_name:
        return []
    import psycopg

    with psycopg.connect(db.pg_admin, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s", [db.pg_name]
        ).fetchall()
    return [row[0] for row in rows]


# --- The clients ------------------------------------------------------------------------------


@dataclass
class Phase:
    """Everything one kind of request (figure or baseline) did at one level of concurrency."""

    latencies: list[float] = field(default_factory=list)
    round_medians: list[float] = field(default_factory=list)
    seconds: float = 0.0
    statuses: Counter[str] = field(default_factory=Counter)
    #: Idempotency-Key → receipt, for every 201.
    acknowledged: dict[str, str] = field(default_factory=dict)
    replays: int = 0
    replay_mismatches: int = 0
    server_cpu: float = 0.0
    client_cpu: float = 0.0
    db_cpu: float = 0.0
    machine_cpu: float = 0.0

    @property
    def created(self) -> int:
        return len(self.acknowledged)

    @property
    def errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status not in ("200", "201"))


class _Connection:
    """One keep-alive HTTP/1.1 connection. Hand-written rather than httpx: on a 2-core machine
    the load generator shares the CPU with the server, and this costs a tenth as much."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(
        self, path: str, body: bytes, key: str, token: str | None = None
    ) -> tuple[int, bytes]:
        if self.writer is None or self.reader is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"Idempotency-Key: {key}\r\nX-Guest-Token: {token or GUEST_TOKEN[0]}\r\n\r\n"
        ).encode()
        try:
            self.writer.write(head + body)
            raw = await self.reader.readuntil(b"\r\n\r\n")
            lines = raw.decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ", 2)[1])
            headers = {
                name.strip().lower(): value.strip()
                for name, _, value in (line.partition(":") for line in lines[1:] if line)
            }
            length = headers.get("content-length")
            if length is None:  # granian/Django always send the length; anything else is odd
                raise ConnectionError(f"no Content-Length ({headers})")
            content = await self.reader.readexactly(int(length))
        except BaseException:
            self.close()
            raise
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, content

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def _drive(
    port: int, path: str, body: bytes, clients: int, seconds: float, phase: Phase, replays: bool
) -> None:
    deadline = time.perf_counter() + seconds
    pool: list[tuple[str, str]] = []
    rng = random.Random(clients)  # noqa: S311 (which request replays, not a secret)
    latencies: list[float] = []

    async def client() -> None:
        connection = _Connection(port)
        try:
            while time.perf_counter() < deadline:
                replay = replays and bool(pool) and rng.random() < REPLAY_SHARE
                key, expected = rng.choice(pool) if replay else (secrets.token_urlsafe(24), "")
                started = time.perf_counter()
                try:
                    status, content = await asyncio.wait_for(
                        connection.post(path, body, key), timeout=60
                    )
                except (OSError, asyncio.IncompleteReadError, TimeoutError) as error:
                    phase.statuses[type(error).__name__] += 1
                    continue
                latencies.append(time.perf_counter() - started)
                phase.statuses[str(status)] += 1
                if status not in (200, 201):
                    continue
                receipt = json.loads(content)["receipt_number"]
                if replay:
                    phase.replays += 1
                    if status != 200 or receipt != expected:
                        phase.replay_mismatches += 1
                elif status == 201:
                    phase.acknowledged[key] = receipt
                    pool.append((key, receipt))
                else:  # a new key answered as a replay: a receipt we did not create
                    phase.replay_mismatches += 1
        finally:
            connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    phase.seconds += time.perf_counter() - started
    phase.latencies.extend(latencies)
    if latencies:
        phase.round_medians.append(statistics.median(latencies))


def _measure(
    db: Database, server: subprocess.Popen[bytes], port: int, path: str, body: bytes,
    clients: int, seconds: float, phase: Phase, replays: bool,
) -> None:  # fmt: skip
    server_pids = _group_pids(server.pid)
    db_pids = _pg_backends(db)
    cpu_server, cpu_db, cpu_client, cpu_machine = (
        _cpu_seconds(server_pids),
        _cpu_seconds(db_pids),
        time.process_time(),
        _machine_cpu_seconds(),
    )
    asyncio.run(_drive(port, path, body, clients, seconds, phase, replays))
    phase.machine_cpu += _machine_cpu_seconds() - cpu_machine
    phase.server_cpu += _cpu_seconds(server_pids) - cpu_server
    # Backends opened during the phase count from zero, which is what they used.
    phase.db_cpu += _cpu_seconds(_pg_backends(db)) - cpu_db
    phase.client_cpu += time.process_time() - cpu_client


# --- The proof --------------------------------------------------------------------------------


def _rows(db: Database, sql: str) -> list[tuple[Any, ...]]:
    if db.pg_name:
        import psycopg

        with psycopg.connect(db.env["MADOGUCHI_DATABASE_URL"]) as conn:
            return list(conn.execute(sql).fetchall())  # type: ignore[arg-type]
    with sqlite3.connect(db.data_dir / "madoguchi.sqlite3") as conn:
        return list(conn.execute(sql).fetchall())


def _prove(db: Database, figures: list[Phase], baselines: list[Phase]) -> list[str]:
    """Check every acknowledged receipt against the database; return what was found."""
    stored = dict(
        _rows(
            db,
            "SELECT idempotency_key, receipt_number FROM applications_application "
            "WHERE idempotency_scope = 'guest:bench@example.jp'",
        )
    )
    by_key = _rows(
        db,
        "SELECT idempotency_scope, idempotency_key, COUNT(*) FROM applications_application "
        "GROUP BY idempotency_scope, idempotency_key HAVING COUNT(*) > 1",
    )
    by_receipt = _rows(
        db,
        "SELECT receipt_number, COUNT(*) FROM applications_application "
        "GROUP BY receipt_number HAVING COUNT(*) > 1",
    )
    acknowledged: dict[str, str] = {}
    for phase in figures:
        acknowledged.update(phase.acknowledged)
    missing = [key for key, receipt in acknowledged.items() if stored.get(key) != receipt]
    unacknowledged = len(set(stored) - set(acknowledged))
    baseline_receipts = {r for phase in baselines for r in phase.acknowledged.values()}
    (total,) = _rows(db, "SELECT COUNT(*) FROM applications_application")[0]
    (revisions,) = _rows(db, "SELECT COUNT(*) FROM applications_applicationrevision")[0]
    (audits,) = _rows(
        db, "SELECT COUNT(*) FROM audit_auditevent WHERE target_type = 'application'"
    )[0]
    (outbox,) = _rows(db, "SELECT COUNT(*) FROM notifications_outboxmessage")[0]
    (bench_rows,) = _rows(
        db, "SELECT COUNT(*) FROM applications_application WHERE idempotency_scope LIKE 'bench:%'"
    )[0]
    replays = sum(p.replays for p in figures)
    mismatches = sum(p.replay_mismatches for p in figures)
    assert not by_key, f"{db.label}: an idempotency key stored twice: {by_key[:3]}"
    assert not by_receipt, f"{db.label}: a receipt number stored twice: {by_receipt[:3]}"
    assert not missing, f"{db.label}: {len(missing)} acknowledged receipts not stored as answered"
    assert mismatches == 0, f"{db.label}: {mismatches} replays did not return the first receipt"
    assert bench_rows == len(baseline_receipts), f"{db.label}: baseline rows {bench_rows}"
    assert total == revisions == audits == outbox, (
        f"{db.label}: applications {total}, revisions {revisions}, audit {audits}, outbox {outbox}"
    )
    counted = _counted(db)
    assert counted == total, f"{db.label}: the statistics count {counted} of {total}"
    return [
        f"{db.label} proof: {len(acknowledged)} acknowledged receipts each stored exactly once "
        f"(by receipt and by key); {replays} replays all returned the first receipt with 200; "
        f"{unacknowledged} stored but unanswered (client gave up); every application has its "
        f"revision, audit event and outbox row, and the statistics count each once ({total} in all)."
    ]


COUNTED = r"""
import django
django.setup()
from madoguchi.applications.selectors import arrival_counts
print("BENCH-COUNTED", sum(row.count for row in arrival_counts()))
"""


def _counted(db: Database) -> int:
    """What the statistics count (``arrival_counts``), in a process of the installation."""
    done = subprocess.run(  # noqa: S603 (our interpreter, our script)
        [sys.executable, "-c", COUNTED],
        env=db.env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    for line in done.stdout.splitlines():
        if line.startswith("BENCH-COUNTED "):
            return int(line.removeprefix("BENCH-COUNTED "))
    raise AssertionError(f"counting failed: {done.stderr[-2000:]}")


# --- Where the time goes ----------------------------------------------------------------------


def _profile(db: Database, body: bytes, count: int) -> list[str]:
    done = subprocess.run(  # noqa: S603 (our interpreter, our script)
        [sys.executable, "-c", PROFILE, str(count), GUEST_TOKEN[0]],
        env=db.env,
        input=body.decode(),
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    for line in done.stdout.splitlines():
        if line.startswith("BENCH-PROFILE "):
            data = json.loads(line.removeprefix("BENCH-PROFILE "))
            break
    else:
        return [f"{db.label} profile failed: {done.stderr[-500:]}"]
    parts: dict[str, float] = data["parts"]
    total = data["total"]
    view = parts.pop("view (everything below)", 0.0)
    shown = ", ".join(
        f"{name} {value / total:.0%}"
        for name, value in sorted(parts.items(), key=lambda item: -item[1])
        if value / total >= 0.01
    )
    sent: list[str] = data.get("statements", [])
    kinds = Counter(sent)
    return [
        f"{db.label} statements per submission (after warm-up, no BEGIN/COMMIT): {len(sent)} — "
        + ", ".join(f"{n}× {kind}" for kind, n in kinds.items()),
        f"{db.label} where the time goes (one client, in-process, {count} submissions): "
        f"{duration(data['plain'])} each without profiler; under cProfile "
        f"{duration(total)} of which outside the view (Django + ninja + middleware) "
        f"{(total - view) / total:.0%}; inside: {shown}",
    ]


# --- Putting it together ----------------------------------------------------------------------


def _timing(phase: Phase) -> Timing:
    samples = phase.latencies or [float("nan")]
    medians = phase.round_medians or [1.0]
    return Timing(
        median=statistics.median(samples),
        p95=statistics.quantiles(samples, n=100, method="inclusive")[94]
        if len(samples) > 1
        else samples[0],
        calls=len(phase.latencies),
        rounds=len(phase.round_medians),
        spread=max(medians) / min(medians),
    )


def _p99(phase: Phase) -> float:
    if len(phase.latencies) < 2:
        return float("nan")
    return statistics.quantiles(phase.latencies, n=100, method="inclusive")[98]


def _describe(db: Database, clients: int, figure: Phase, base: Phase, one: Phase) -> list[str]:
    def rate(phase: Phase) -> float:
        return phase.created / phase.seconds if phase.seconds else 0.0

    def per_request(cpu: float, phase: Phase) -> str:
        requests = sum(phase.statuses.values())
        return duration(cpu / requests) if requests else "—"

    def cpu(phase: Phase) -> str:
        shown = f"server {per_request(phase.server_cpu, phase)}"
        if db.pg_name:
            shown += f", PostgreSQL {per_request(phase.db_cpu, phase)}"
        return (
            f"{shown}, whole machine {per_request(phase.machine_cpu, phase)} "
            f"(load generator {per_request(phase.client_cpu, phase)})"
        )

    statuses = ", ".join(f"{k}×{v}" for k, v in sorted(figure.statuses.items()))
    return [
        f"{db.label}, {clients} clients: {rate(figure):.0f} submissions/s "
        f"(insert-only baseline {rate(base):.0f}/s, {rate(base) / rate(figure):.2f}× as many; "
        f"one-INSERT baseline {rate(one):.0f}/s, {rate(one) / rate(figure):.2f}×)"
        if rate(figure)
        else f"{db.label}, {clients} clients: no submission succeeded",
        f"    latency p50 {duration(statistics.median(figure.latencies))}, p99 "
        f"{duration(_p99(figure))} (insert-only p99 {duration(_p99(base))}, one-INSERT p99 "
        f"{duration(_p99(one))}); errors {figure.errors} of {sum(figure.statuses.values())} "
        f"({statuses}); baseline errors {base.errors}, {one.errors}",
        f"    CPU per request — submission: {cpu(figure)}",
        f"    CPU per request — insert-only: {cpu(base)}",
        f"    CPU per request — one INSERT: {cpu(one)}",
    ]


def _run_database(db: Database, seconds: float) -> list[Result]:
    _say(f"{db.label}: preparing a fresh installation")
    prepared = _setup(db)
    GUEST_TOKEN[:] = [prepared.pop("guest_token")]
    submission = {**prepared, "contact_email": GUEST_EMAIL}
    body = json.dumps(submission, ensure_ascii=False).encode()
    port = _free_port()
    server = _start(db, port)
    results: list[Result] = []
    figures: list[Phase] = []
    baselines: list[Phase] = []
    try:
        submit, baseline = "/api/v1/applications/", "/api/v1/bench/insert-only/"
        floor = "/api/v1/bench/one-insert/"
        # Warm up: every worker thread opens its connection, caches the form spec.
        warm = Phase()
        asyncio.run(_drive(port, submit, body, 32, 1.5, warm, False))
        warm_base = Phase()
        asyncio.run(_drive(port, baseline, body, 32, 0.5, warm_base, False))
        asyncio.run(_drive(port, floor, b"{}", 32, 0.5, Phase(), False))
        assert warm.created, f"{db.label}: warm-up failed: {dict(warm.statuses)}"
        figures.append(warm)
        baselines.append(warm_base)
        for clients in LEVELS:
            figure, base, one = Phase(), Phase(), Phase()
            _say(f"{db.label}: {clients} clients, {ROUNDS}×({seconds / ROUNDS:.0f} s + baselines)")
            for _ in range(ROUNDS):
                _measure(db, server, port, submit, body, clients, seconds / ROUNDS, figure, True)
                _measure(db, server, port, baseline, body, clients, seconds / ROUNDS, base, False)
                _measure(db, server, port, floor, b"{}", clients, seconds / ROUNDS, one, False)
            figures.append(figure)
            baselines.append(base)
            results.append(
                Result(
                    f"{db.label}, {clients} clients",
                    _timing(figure),
                    _timing(base),
                    "insert-only endpoint",
                )
            )
            results.append(
                Result(
                    f"{db.label}, {clients} clients",
                    _timing(figure),
                    _timing(one),
                    "one-INSERT endpoint",
                )
            )
            NOTES.extend(_describe(db, clients, figure, base, one))
    finally:
        _stop(server)
    NOTES.extend(_prove(db, figures, baselines))
    _say(f"{db.label}: profiling")
    NOTES.extend(_profile(db, body, 300))
    return results


def run(settings: Settings) -> list[Result]:
    seconds = _seconds()
    NOTES.clear()
    NOTES.append(
        f"granian: {CORES} workers × {THREADS} threads; {seconds:.0f} s per level "
        f"({ROUNDS} rounds alternating with the baseline); {REPLAY_SHARE:.0%} of requests replay "
        "an earlier key; insert-only baseline = the same inserts in one transaction, no HTTP "
        "parsing of the form, no validation, no encryption, no idempotency look-up; one-INSERT "
        "baseline = one durable INSERT of one small row. CPU per request is the robust figure "
        "(whole machine includes the load generator and anything else running); throughput "
        "is indicative on a shared machine."
    )
    results: list[Result] = []
    for kind in _databases():
        db = _prepare(kind)
        if db is None:
            NOTES.append(f"{kind}: not reachable, skipped")
            continue
        try:
            results.extend(_run_database(db, seconds))
        finally:
            _discard(db)
    return results
