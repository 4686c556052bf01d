"""Faults: submissions that must survive SIGKILLed workers and a PostgreSQL restart.

``make bench BENCH_ARGS=faults``. On a PostgreSQL cluster of its own (``initdb`` + ``pg_ctl``
in a temporary folder, on a free port, ``fsync=on``, default durability — never the shared
server), with ``madoguchi serve`` (granian's web workers and the outbox worker, as in
production), mail going to an SMTP sink on loopback and webhooks to a receiver on loopback
(an endpoint registered through ``webhook_endpoint_create``), this module:

1. sends ``BENCH_FAULTS_SUBMISSIONS`` (10,000) guest submissions from ``BENCH_FAULTS_CLIENTS``
   (64) clients; a client retries the same ``Idempotency-Key`` after any failure (refused or
   reset connection, 5xx, timeout) until it is acknowledged (201, or 200 for a replay);
2. meanwhile SIGKILLs a web worker or the outbox worker at random moments (the schedule comes
   from ``BENCH_FAULTS_SEED``, printed so that a run can be repeated), and stops PostgreSQL
   once as a crash does (``pg_ctl stop -m immediate``) and starts it again;
3. waits until the outbox is drained (every mail sent, every webhook delivered);
4. proves from the database and the sinks that every acknowledged receipt exists exactly once
   (by receipt number and by idempotency key), that nothing is stored that was never
   acknowledged, that every receipt mail was sent at least once and every webhook event was
   delivered at least once (duplicates counted), and that the outbox is empty.

It prints the figures (acks, retries by cause, kills, the restart's duration, duplicates,
time to drain, throughput) and fails — naming the proof — when a proof fails. PostgreSQL only:
SQLite has no server to restart.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import logging
import os
import random
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.error import URLError
from urllib.request import urlopen

from _harness import Result, Settings
from submissions import SETUP, _Connection, _free_port

TITLE = (
    "Faults: submissions retried with the same Idempotency-Key while web and outbox workers "
    "are SIGKILLed and PostgreSQL restarts once"
)
#: Filled in by ``run``: the figures and the proofs.
NOTES: list[str] = []

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PG_BIN = Path(os.environ.get("BENCH_FAULTS_PG_BIN", "/usr/lib/postgresql/15/bin"))
GUEST_EMAIL = "bench@example.jp"
WORKERS = 2
#: Seconds a process must have run before it may be killed (see ``_faults``).
SETTLED = 8.0
THREADS = 8
RECEIPT = re.compile(r"受付番号 ([0-9A-Za-z-]+)")

WEBHOOK_SETUP = r"""
import json, sys
import django
django.setup()
from madoguchi.core.time import now
from madoguchi.identity.constants import StaffRole
from madoguchi.identity.services import staff_upsert
from madoguchi.integrations.webhooks import EVENT_SUBMITTED, webhook_endpoint_create
from madoguchi.tenants.models import Organisation

org = Organisation.objects.get(lg_code="141003")
admin = staff_upsert(organisation=org, email="faults-admin@example.jp",
                     password="bench-only password 42", role=StaffRole.ADMIN)
endpoint, secret = webhook_endpoint_create(
    organisation=org, url=sys.argv[1], events=[EVENT_SUBMITTED], actor=admin.user, now=now())
print("BENCH-WEBHOOK " + json.dumps({"endpoint": endpoint.pk, "secret": secret}))
"""


def _say(line: str) -> None:
    print(f"  … {line}", file=sys.stderr, flush=True)  # noqa: T201  (progress of a long run)


def _number(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


# --- A PostgreSQL cluster of our own, which we may stop -----------------------------------------


class Cluster:
    """``initdb`` + ``pg_ctl`` in a temporary folder (as the ``postgres`` user when we are
    root: PostgreSQL refuses to run as root)."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="mdg-faults-pg-", dir="/tmp"))
        self.data = self.folder / "data"
        self.port = _free_port()
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")

    def _run(self, *command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        return subprocess.run(  # noqa: S603 (PostgreSQL's own programs, fixed arguments)
            [*prefix, *command], capture_output=True, text=True, check=check, timeout=300
        )

    def create(self) -> None:
        self._run(
            str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
            "-E", "UTF8", "--locale=C.UTF-8", "--no-instructions",
        )  # fmt: skip
        self.start()

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=on "
            "-c max_connections=200 -c shared_buffers=64MB"
        )
        self._run(
            str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.folder / "log"),
            "-w", "-t", "120", "-o", options, "start",
        )  # fmt: skip

    def crash(self) -> None:
        """Stop as a crash would: no checkpoint, every backend gone at once."""
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def destroy(self) -> None:
        self._run(
            str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop", check=False
        )
        shutil.rmtree(self.folder, ignore_errors=True)

    def url(self, name: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"


def _rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(url) as conn:
        return list(conn.execute(sql).fetchall())  # type: ignore[arg-type]


# --- The sinks: SMTP and webhooks on loopback ----------------------------------------------------


class MailSink:
    """An aiosmtpd server counting receipt mails per receipt number."""

    def __init__(self) -> None:
        self.receipts: Counter[str] = Counter()
        self.other = 0
        self.port = _free_port()
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's hook)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        found = RECEIPT.search(str(message["subject"] or ""))
        with self.lock:
            if found:
                self.receipts[found.group(1)] += 1
            else:
                self.other += 1
        return "250 OK"

    def start(self) -> Any:
        from aiosmtpd.controller import Controller

        logging.getLogger("mail.log").setLevel(logging.WARNING)  # one line per SMTP command
        controller = Controller(self, hostname="127.0.0.1", port=self.port)
        controller.start()
        return controller


class HookSink:
    """A threaded HTTP receiver counting webhook deliveries per ``webhook-id``."""

    def __init__(self) -> None:
        self.deliveries: Counter[str] = Counter()
        self.receipts: dict[str, str] = {}
        self.bad_signatures = 0
        self.secret = ""
        self.lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                from madoguchi.integrations.webhooks import webhook_signature

                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                message_id = self.headers.get("webhook-id", "")
                expected = webhook_signature(
                    secret=sink.secret,
                    message_id=message_id,
                    timestamp=int(self.headers.get("webhook-timestamp") or 0),
                    body=body,
                )
                with sink.lock:
                    if self.headers.get("webhook-signature") != expected:
                        sink.bad_signatures += 1
                    sink.deliveries[message_id] += 1
                    sink.receipts[message_id] = json.loads(body)["data"]["receipt_number"]
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def start(self) -> None:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- The server under test: ``madoguchi serve`` -------------------------------------------------


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(child) for child in text.split()]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[0] != "Z"


def _age(pid: int) -> float:
    """Seconds since the process started (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        uptime = float(Path("/proc/uptime").read_text().split()[0])
    except OSError:
        return 0.0
    return uptime - int(fields[19]) / os.sysconf("SC_CLK_TCK")


def _processes(serve: subprocess.Popen[bytes]) -> tuple[list[int], list[int]]:
    """(granian's web workers, the outbox worker(s)) under ``serve`` right now."""
    web: list[int] = []
    outbox: list[int] = []
    for child in _children(serve.pid):
        line = _cmdline(child)
        if "outbox_worker" in line:
            outbox.extend(p for p in [child] if _alive(p))
        elif "granian" in line:
            web.extend(p for p in _children(child) if _alive(p))
    return web, outbox


def _serve(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as output:
        serve = subprocess.Popen(  # noqa: S603 (our interpreter, fixed arguments)
            [
                *(sys.executable, "-m", "madoguchi", "serve", "--host", "127.0.0.1"),
                *("--port", str(port), "--workers", str(WORKERS), "--threads", str(THREADS)),
            ],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if serve.poll() is not None:
            raise AssertionError(
                f"serve stopped with {serve.returncode}: {log.read_text()[-2000:]}"
            )
        try:
            with urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                if response.status == 200 and len(_processes(serve)[0]) == WORKERS:
                    return serve
        except (URLError, OSError):
            pass
        time.sleep(0.3)
    _stop(serve)
    raise AssertionError("madoguchi serve did not answer /healthz within 120 s")


def _stop(serve: subprocess.Popen[bytes]) -> None:
    if serve.poll() is None:
        serve.send_signal(signal.SIGTERM)
    try:
        serve.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(serve.pid, signal.SIGKILL)
        serve.wait()


# --- The clients and the faults -------------------------------------------------------------


@dataclass
class Run:
    acknowledged: dict[str, str] = field(default_factory=dict)
    #: Acknowledged by a 200 (a replay) after an earlier attempt failed: stored, ack lost.
    returned_on_retry: int = 0
    #: A 200 (replay) to the very first attempt of a key: a receipt we did not create.
    replay_on_first: int = 0
    retries: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)
    kills: Counter[str] = field(default_factory=Counter)
    kill_log: list[str] = field(default_factory=list)
    restart_seconds: float = 0.0
    restart_at: int = 0
    seconds: float = 0.0
    serve_died: bool = False


async def _clients(
    port: int, body: bytes, token: str, keys: list[str], clients: int, run: Run
) -> None:
    queue = list(reversed(keys))

    async def client(rng: random.Random) -> None:
        connection = _Connection(port)
        try:
            while queue:
                key = queue.pop()
                attempt = 0
                while True:
                    attempt += 1
                    try:
                        status, content = await asyncio.wait_for(
                            connection.post("/api/v1/applications/", body, key, token), timeout=30
                        )
                    except ConnectionRefusedError:
                        cause = "connection refused"
                    except (ConnectionError, asyncio.IncompleteReadError):
                        cause = "connection reset"
                    except TimeoutError:
                        cause = "timeout"
                        connection.close()
                    except OSError as error:
                        cause = type(error).__name__
                    else:
                        if status in (200, 201):
                            run.acknowledged[key] = json.loads(content)["receipt_number"]
                            if status == 200:
                                if attempt == 1:
                                    run.replay_on_first += 1
                                else:
                                    run.returned_on_retry += 1
                            break
                        if status < 500:  # a refusal, not a fault: retrying cannot help
                            run.refused[f"{status} {content[:120]!r}"] += 1
                            break
                        cause = f"HTTP {status}"
                    run.retries[cause] += 1
                    await asyncio.sleep(min(0.05 * 2 ** min(attempt, 6), 2.0) * rng.random())
        finally:
            connection.close()

    jitter = [random.Random(n) for n in range(clients)]  # noqa: S311 (back-off, not a secret)
    await asyncio.gather(*(client(rng) for rng in jitter))


async def _faults(
    serve: subprocess.Popen[bytes], cluster: Cluster, rng: random.Random, total: int,
    run: Run, done: asyncio.Event, started: float,
) -> None:  # fmt: skip
    """Kill a web or outbox worker every 1–6 s (chosen by ``rng``); restart PostgreSQL once,
    when a random share (30–60 %) of the submissions has been acknowledged.

    A victim has run for at least :data:`SETTLED` seconds: a worker killed again within 5.5 s
    of its respawn is what granian calls a crash loop (it then exits, and ``serve`` restarts
    it after a back-off) — a different fault from a crash at a random moment."""
    restart_share = rng.uniform(0.3, 0.6)
    restarted = False
    while not done.is_set():
        if serve.poll() is not None:  # the supervisor itself gave up: a finding, not a fault
            run.serve_died = True
            return
        wait = rng.uniform(1.0, 6.0)
        target = rng.choice(("web", "web", "outbox"))
        pick = rng.random()
        try:
            await asyncio.wait_for(done.wait(), timeout=wait)
            return
        except TimeoutError:
            pass
        if not restarted and len(run.acknowledged) >= restart_share * total:
            restarted = True
            run.restart_at = len(run.acknowledged)
            begun = time.monotonic()
            await asyncio.to_thread(cluster.crash)
            await asyncio.to_thread(cluster.start)
            run.restart_seconds = time.monotonic() - begun
            run.kill_log.append(
                f"{time.monotonic() - started:.1f}s PostgreSQL restart "
                f"({run.restart_seconds:.2f} s)"
            )
            continue
        web, outbox = _processes(serve)
        victims = [p for p in (web if target == "web" else outbox) if _age(p) >= SETTLED]
        if not victims:  # being respawned right now, or just started
            continue
        victim = victims[int(pick * len(victims))]
        try:
            os.kill(victim, signal.SIGKILL)
        except ProcessLookupError:
            continue
        run.kills[target] += 1
        run.kill_log.append(f"{time.monotonic() - started:.1f}s SIGKILL {target} worker")


async def _drive(
    serve: subprocess.Popen[bytes], cluster: Cluster, port: int, body: bytes, token: str,
    keys: list[str], clients: int, rng: random.Random, run: Run,
) -> None:  # fmt: skip
    done = asyncio.Event()
    started = time.monotonic()
    faults = asyncio.create_task(_faults(serve, cluster, rng, len(keys), run, done, started))
    sending = asyncio.create_task(_clients(port, body, token, keys, clients, run))
    try:
        await asyncio.wait({faults, sending}, return_when=asyncio.FIRST_COMPLETED)
        if run.serve_died:
            sending.cancel()
        await asyncio.gather(sending, return_exceptions=True)
    finally:
        run.seconds = time.monotonic() - started
        done.set()
        await faults


# --- Drain and proof ----------------------------------------------------------------------------


def _backlog(url: str) -> tuple[int, int]:
    (mails,) = _rows(
        url, "SELECT COUNT(*) FROM notifications_outboxmessage WHERE delivered_at IS NULL"
    )[0]
    (hooks,) = _rows(
        url,
        "SELECT COUNT(*) FROM integrations_webhookdelivery WHERE status IN ('pending', 'failed')",
    )[0]
    return int(mails), int(hooks)


def _drain(url: str, limit: float) -> tuple[float, tuple[int, int]]:
    started = time.monotonic()
    left = _backlog(url)
    while any(left) and time.monotonic() - started < limit:
        time.sleep(0.5)
        left = _backlog(url)
    return time.monotonic() - started, left


def _prove(
    url: str, keys: list[str], run: Run, mails: MailSink, hooks: HookSink, left: tuple[int, int]
) -> tuple[list[str], list[str]]:
    """(what was shown, which proofs failed)."""
    failed: list[str] = []
    if run.serve_died:
        failed.append("madoguchi serve stopped under the faults (see its log)")
    stored = dict(
        _rows(
            url,
            "SELECT idempotency_key, receipt_number FROM applications_application "
            "WHERE idempotency_scope = 'guest:bench@example.jp'",
        )
    )
    by_key = _rows(
        url,
        "SELECT idempotency_scope, idempotency_key, COUNT(*) FROM applications_application "
        "GROUP BY idempotency_scope, idempotency_key HAVING COUNT(*) > 1",
    )
    by_receipt = _rows(
        url,
        "SELECT receipt_number, COUNT(*) FROM applications_application "
        "GROUP BY receipt_number HAVING COUNT(*) > 1",
    )
    (applications,) = _rows(url, "SELECT COUNT(*) FROM applications_application")[0]
    if len(run.acknowledged) != len(keys):
        failed.append(f"{len(keys) - len(run.acknowledged)} submissions never acknowledged")
    if by_key:
        failed.append(f"an idempotency key stored more than once: {by_key[:3]}")
    if by_receipt:
        failed.append(f"a receipt number stored more than once: {by_receipt[:3]}")
    wrong = [k for k, receipt in run.acknowledged.items() if stored.get(k) != receipt]
    if wrong:
        failed.append(f"{len(wrong)} acknowledged receipts not stored as answered")
    never = set(stored) - set(run.acknowledged)
    if never:
        failed.append(f"{len(never)} applications stored but never acknowledged")
    if applications != len(stored):
        failed.append(f"{applications - len(stored)} applications nobody sent")
    if run.replay_on_first:
        failed.append(f"{run.replay_on_first} new keys answered as replays")
    receipts = set(stored.values())
    unmailed = receipts - set(mails.receipts)
    if unmailed:
        failed.append(f"{len(unmailed)} receipts without a receipt mail")
    phantom_mails = set(mails.receipts) - receipts
    if phantom_mails:
        failed.append(f"{len(phantom_mails)} receipt mails for applications not stored")
    events = dict(
        _rows(
            url,
            "SELECT message_id, status FROM integrations_webhookdelivery "
            "WHERE event_type = 'application.submitted'",
        )
    )
    if len(events) != len(receipts):
        failed.append(f"{len(events)} webhook events for {len(receipts)} applications")
    lost = set(events) - set(hooks.deliveries)
    if lost:
        failed.append(f"{len(lost)} webhook events never delivered")
    phantom_hooks = set(hooks.deliveries) - set(events)
    if phantom_hooks:
        failed.append(f"{len(phantom_hooks)} webhook deliveries of unknown events")
    hooked = set(hooks.receipts.values())
    if hooked != receipts:
        failed.append(f"{len(receipts - hooked)} applications without a webhook delivered")
    if hooks.bad_signatures:
        failed.append(f"{hooks.bad_signatures} webhook deliveries with a bad signature")
    not_delivered = Counter(status for status in events.values() if status != "delivered")
    if any(left) or not_delivered:
        failed.append(
            f"outbox not drained: {left[0]} mails, {left[1]} webhooks due; "
            f"webhook statuses {dict(not_delivered)}"
        )
    if run.refused:
        failed.append(f"refused by the server (4xx): {dict(run.refused)}")
    mail_dupes = sum(n - 1 for r, n in mails.receipts.items() if r in receipts)
    hook_dupes = sum(n - 1 for n in hooks.deliveries.values())
    shown = [
        f"proof: {len(run.acknowledged)} of {len(keys)} submissions acknowledged; "
        f"{len(stored)} stored, each exactly once by receipt number and by idempotency key, "
        f"each as acknowledged; {len(never)} stored but never acknowledged; "
        f"{run.returned_on_retry} stored, ack lost, then returned on retry (200)",
        f"mail: {sum(mails.receipts.values())} receipt mails for {len(receipts)} receipts, "
        f"{len(unmailed)} missing, {mail_dupes} duplicates "
        f"({sum(1 for n in mails.receipts.values() if n > 1)} receipts mailed twice or more)",
        f"webhooks: {sum(hooks.deliveries.values())} deliveries of {len(events)} events, "
        f"{len(lost)} lost, {hook_dupes} duplicates (same webhook-id), "
        f"{hooks.bad_signatures} bad signatures",
    ]
    return shown, failed


# --- Putting it together ------------------------------------------------------------------------


def _setup(env: dict[str, str], webhook_url: str) -> tuple[dict[str, Any], str]:
    def script(code: str, marker: str, *args: str) -> dict[str, Any]:
        done = subprocess.run(  # noqa: S603 (our interpreter, our script)
            [sys.executable, "-c", code, *args],
            env=env, capture_output=True, text=True, check=False, timeout=600,
        )  # fmt: skip
        for line in done.stdout.splitlines():
            if line.startswith(marker):
                result: dict[str, Any] = json.loads(line.removeprefix(marker))
                return result
        raise AssertionError(f"setup failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")

    prepared = script(SETUP, "BENCH-SETUP ")
    webhook = script(WEBHOOK_SETUP, "BENCH-WEBHOOK ", webhook_url)
    return prepared, str(webhook["secret"])


def _environment(folder: Path, database_url: str, smtp_port: int) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("MADOGUCHI_") and key != "DJANGO_SETTINGS_MODULE"
    }
    env.update(
        DJANGO_SETTINGS_MODULE="madoguchi.conf.settings",
        MADOGUCHI_DATA_DIR=str(folder),
        MADOGUCHI_DATABASE_URL=database_url,
        MADOGUCHI_SMTP_URL=f"smtp://127.0.0.1:{smtp_port}",
        MADOGUCHI_WEBHOOK_ALLOW_PRIVATE="1",
        MADOGUCHI_LOG_LEVEL="WARNING",
        MADOGUCHI_VIRUS_SCAN_EXTERNAL="1",
        PYTHONUNBUFFERED="1",
    )
    return env


def run(settings: Settings) -> list[Result]:
    total = _number("BENCH_FAULTS_SUBMISSIONS", 10_000)
    clients = _number("BENCH_FAULTS_CLIENTS", 64)
    seed = _number("BENCH_FAULTS_SEED", secrets.randbelow(1_000_000))
    drain_limit = _number("BENCH_FAULTS_DRAIN_SECONDS", 900)
    NOTES.clear()
    NOTES.append(
        f"seed {seed} (BENCH_FAULTS_SEED={seed} repeats the kill schedule); {total} submissions, "
        f"{clients} clients; madoguchi serve with {WORKERS} web workers × {THREADS} threads "
        "and the outbox worker; own PostgreSQL cluster (fsync=on)"
    )
    rng = random.Random(seed)  # noqa: S311 (a reproducible schedule, not a secret)
    base = ROOT / "var" / "bench"
    base.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="faults-", dir=base))
    cluster = Cluster()
    mails, hooks = MailSink(), HookSink()
    smtp = mails.start()
    hooks.start()
    serve: subprocess.Popen[bytes] | None = None
    failed: list[str] = []
    try:
        _say(f"own PostgreSQL cluster on port {cluster.port}")
        cluster.create()
        cluster._run(
            str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(cluster.port),
            "-U", "postgres", "madoguchi",
        )  # fmt: skip
        url = cluster.url("madoguchi")
        env = _environment(folder, url, mails.port)
        _say("preparing the installation (bootstrap, procedure, webhook endpoint)")
        prepared, hooks.secret = _setup(env, hooks.url)
        token = str(prepared.pop("guest_token"))
        body = json.dumps({**prepared, "contact_email": GUEST_EMAIL}, ensure_ascii=False).encode()
        port = _free_port()
        serve = _serve(env, port, folder / "serve.log")
        keys = [secrets.token_urlsafe(24) for _ in range(total)]
        result = Run()
        _say(f"{total} submissions from {clients} clients under faults (seed {seed})")
        asyncio.run(_drive(serve, cluster, port, body, token, keys, clients, rng, result))
        _say("waiting for the outbox to drain")
        drained, left = _drain(url, drain_limit)
        web, outbox = _processes(serve)
        time.sleep(1.0)  # the last deliveries reach the sinks' counters
        shown, failed = _prove(url, keys, result, mails, hooks, left)
        retries = sum(result.retries.values())
        causes = ", ".join(f"{cause} {n}" for cause, n in result.retries.most_common())
        NOTES.extend(
            [
                f"acknowledged {len(result.acknowledged)} in {result.seconds:.1f} s: "
                f"{len(result.acknowledged) / result.seconds:.0f} submissions/s under faults",
                f"retries {retries} ({causes or 'none'}); errors seen by clients "
                f"{retries + sum(result.refused.values())}",
                f"kills: web worker {result.kills['web']}, outbox worker "
                f"{result.kills['outbox']} (SIGKILL); PostgreSQL restarted once after "
                f"{result.restart_at} acks, down {result.restart_seconds:.2f} s "
                "(immediate stop, crash recovery, start)",
                f"outbox drained {drained:.1f} s after the last acknowledgement; afterwards "
                f"{len(web)} web workers and {len(outbox)} outbox worker running",
                *shown,
                "schedule: "
                + "; ".join(result.kill_log[:12])
                + (f"; … ({len(result.kill_log)} in all)" if len(result.kill_log) > 12 else ""),
            ]
        )
    finally:
        if serve is not None:
            _stop(serve)
            log = (folder / "serve.log").read_text(errors="replace")
            restarts = log.count("送信ワーカーを起動し直しました")
            NOTES.append(f"serve restarted the outbox worker {restarts} times (its log says so)")
        smtp.stop()
        hooks.stop()
        cluster.destroy()
        if not failed:
            shutil.rmtree(folder, ignore_errors=True)
    if failed:
        NOTES.extend(f"PROOF FAILED: {line}" for line in failed)
        NOTES.append(f"the server's log is kept in {folder}")
        print("\n".join(["", f"faults — {TITLE}", *(f"  {n}" for n in NOTES)]))  # noqa: T201
        raise SystemExit("faults: a proof failed: " + "; ".join(failed))
    return []
