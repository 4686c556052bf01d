"""Submissions to one procedure versus spread over 50: counting must not serialise a rush.

Issue 12 asks that no row be updated by every submission to a procedure (the old channel
count was one such row: each submission to the same procedure queued behind its lock until
commit). This module measures it over HTTP against a real server, on SQLite and PostgreSQL:

1. a fresh installation (``madoguchi bootstrap``) with 50 published procedures of one
   organisation (横浜市), each a copy of 粗大ごみ (ial 1, guests may apply);
2. granian as ``madoguchi serve`` runs it, one worker per core;
3. 64 clients send ``POST /api/v1/applications/`` back to back, in alternating rounds:
   **one** — every request to the same procedure — and **spread** — each request to one of
   the 50 procedures at random;
4. the figure is the latency with one procedure, the baseline the latency spread over 50;
   the notes give both throughputs and their difference (the issue asks for ≤ 10%);
5. afterwards every acknowledged receipt is checked in the database, and the statistics'
   counts per procedure (``arrival_counts``) must equal what was acknowledged per procedure.

``BENCH_QUICK=1`` runs 3 s per round instead of 6 (``BENCH_CONTENTION_SECONDS`` sets it);
``BENCH_DATABASES`` and ``BENCH_POSTGRES_URL`` as for ``submissions``.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import secrets
import subprocess
import sys
import time
from collections import Counter
from typing import Any

import submissions as sub
from _harness import Result, Settings

TITLE = "64 clients submitting to one procedure vs spread over 50 (figure: one; baseline: spread)"
NOTES: list[str] = []

CLIENTS = 64
PROCEDURES = 50
ROUNDS = 3

SETUP = r"""
import json
import django
django.setup()
from madoguchi.catalog.models import Procedure
from madoguchi.identity.services import guest_email_token_make

# Installed and published by the submissions benchmark's setup (run first).
first = Procedure.objects.get(organisation__lg_code="141003", slug="sodai-gomi")
ids = [first.pk]
for number in range(1, int(__import__("sys").argv[1])):
    # The same form as another procedure of the organisation (a copy; own procedures are
    # made this way by the catalog too), published.
    copy = Procedure.objects.get(pk=first.pk)
    copy.pk = None
    copy.slug = f"sodai-gomi-{number}"
    copy.name = f"{first.name}（{number}）"
    copy.save()
    ids.append(copy.pk)
tokens = {pk: guest_email_token_make(email="bench@example.jp", procedure_id=pk) for pk in ids}
print("BENCH-SETUP " + json.dumps({"procedures": ids, "tokens": tokens}, ensure_ascii=False))
"""

COUNTED = r"""
import json
import django
django.setup()
from madoguchi.applications.selectors import arrival_counts
per = {}
for row in arrival_counts():
    per[row.procedure_id] = per.get(row.procedure_id, 0) + row.count
print("BENCH-COUNTED " + json.dumps(per))
"""


def _seconds() -> float:
    raw = os.environ.get("BENCH_CONTENTION_SECONDS")
    if raw:
        return float(raw)
    return 3.0 if os.environ.get("BENCH_QUICK") else 6.0


def _script(db: sub.Database, script: str, *args: str) -> dict[str, Any]:
    done = subprocess.run(  # noqa: S603 (our interpreter, our script)
        [sys.executable, "-c", script, *args],
        env=db.env,
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    for line in done.stdout.splitlines():
        if line.startswith("BENCH-"):
            result: dict[str, Any] = json.loads(line.split(" ", 1)[1])
            return result
    raise AssertionError(f"script failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")


def _answers(db: sub.Database) -> dict[str, Any]:
    """A fresh installation with 粗大ごみ published, and valid answers for it: the
    submissions benchmark's own setup makes both."""
    prepared = sub._setup(db)
    answers: dict[str, Any] = prepared["answers"]
    return answers


class Phase:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.round_medians: list[float] = []
        self.seconds = 0.0
        self.statuses: Counter[str] = Counter()
        #: Idempotency-Key → (procedure id, receipt) for every 201.
        self.acknowledged: dict[str, tuple[int, str]] = {}

    @property
    def rate(self) -> float:
        return len(self.acknowledged) / self.seconds if self.seconds else 0.0


async def _drive(
    port: int, bodies: dict[int, bytes], tokens: dict[int, str], chosen: list[int],
    seconds: float, phase: Phase,
) -> None:  # fmt: skip
    deadline = time.perf_counter() + seconds
    rng = random.Random(len(chosen))  # noqa: S311 (which procedure, not a secret)
    latencies: list[float] = []

    async def client() -> None:
        connection = sub._Connection(port)
        try:
            while time.perf_counter() < deadline:
                procedure = rng.choice(chosen)
                key = secrets.token_urlsafe(24)
                started = time.perf_counter()
                try:
                    status, content = await asyncio.wait_for(
                        connection.post(
                            "/api/v1/applications/", bodies[procedure], key, tokens[procedure]
                        ),
                        timeout=60,
                    )
                except (OSError, asyncio.IncompleteReadError, TimeoutError) as error:
                    phase.statuses[type(error).__name__] += 1
                    continue
                latencies.append(time.perf_counter() - started)
                phase.statuses[str(status)] += 1
                if status == 201:
                    phase.acknowledged[key] = (procedure, json.loads(content)["receipt_number"])
        finally:
            connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    phase.seconds += time.perf_counter() - started
    phase.latencies.extend(latencies)
    if latencies:
        phase.round_medians.append(sorted(latencies)[len(latencies) // 2])


def _timing(phase: Phase) -> sub.Timing:
    samples = sorted(phase.latencies) or [float("nan")]
    medians = phase.round_medians or [1.0]
    return sub.Timing(
        median=samples[len(samples) // 2],
        p95=samples[min(len(samples) - 1, int(len(samples) * 0.95))],
        calls=len(phase.latencies),
        rounds=len(phase.round_medians),
        spread=max(medians) / min(medians),
    )


def _prove(db: sub.Database, phases: list[Phase]) -> str:
    acknowledged: dict[str, tuple[int, str]] = {}
    for phase in phases:
        acknowledged.update(phase.acknowledged)
    stored = dict(
        sub._rows(
            db,
            "SELECT idempotency_key, receipt_number FROM applications_application "
            "WHERE idempotency_scope = 'guest:bench@example.jp'",
        )
    )
    missing = [k for k, (_, receipt) in acknowledged.items() if stored.get(k) != receipt]
    assert not missing, f"{db.label}: {len(missing)} acknowledged receipts not stored"
    counted = {int(k): v for k, v in _script(db, COUNTED).items()}
    expected: Counter[int] = Counter()
    for key in stored:  # stored, answered or not: the statistics count what arrived
        expected[acknowledged[key][0] if key in acknowledged else -1] += 1
    unanswered = expected.pop(-1, 0)
    assert sum(counted.values()) == len(stored), f"{db.label}: counted {counted}"
    if not unanswered:
        assert counted == dict(expected), f"{db.label}: per procedure {counted} ≠ {expected}"
    return (
        f"{db.label} proof: {len(acknowledged)} acknowledged receipts each stored; the "
        f"statistics count {sum(counted.values())} applications over {len(counted)} "
        f"procedures, equal per procedure to what was acknowledged"
        + (f" ({unanswered} stored but unanswered)" if unanswered else "")
    )


def _run_database(db: sub.Database, seconds: float) -> list[Result]:
    sub._say(f"{db.label}: preparing {PROCEDURES} procedures")
    answers = _answers(db)
    prepared = _script(db, SETUP, str(PROCEDURES))
    procedures: list[int] = prepared["procedures"]
    tokens = {int(k): v for k, v in prepared["tokens"].items()}
    bodies = {
        pk: json.dumps(
            {"procedure": pk, "answers": answers, "contact_email": sub.GUEST_EMAIL},
            ensure_ascii=False,
        ).encode()
        for pk in procedures
    }
    port = sub._free_port()
    server = sub._start(db, port)
    one, spread = Phase(), Phase()
    try:
        warm = Phase()
        asyncio.run(_drive(port, bodies, tokens, procedures, 1.5, warm))
        assert warm.acknowledged, f"{db.label}: warm-up failed: {dict(warm.statuses)}"
        for _ in range(ROUNDS):
            asyncio.run(_drive(port, bodies, tokens, procedures[:1], seconds, one))
            asyncio.run(_drive(port, bodies, tokens, procedures, seconds, spread))
    finally:
        sub._stop(server)
    difference = (one.rate - spread.rate) / spread.rate if spread.rate else float("nan")
    errors = sum(
        n for phase in (one, spread) for s, n in phase.statuses.items() if s not in ("201",)
    )
    NOTES.append(
        f"{db.label}: one procedure {one.rate:.0f} submissions/s, spread over {PROCEDURES} "
        f"{spread.rate:.0f}/s — one is {difference:+.1%} of spread (issue: within ±10%); "
        f"errors {errors}"
    )
    NOTES.append(_prove(db, [warm, one, spread]))
    return [Result(f"{db.label}, {CLIENTS} clients", _timing(one), _timing(spread), "spread")]


def run(settings: Settings) -> list[Result]:
    seconds = _seconds()
    NOTES.clear()
    NOTES.append(
        f"granian: {sub.CORES} workers × {sub.THREADS} threads; {ROUNDS} rounds of "
        f"{seconds:.0f} s each way, alternating; the statistics are derived from the "
        "applications, so no row is shared by the submissions to one procedure."
    )
    results: list[Result] = []
    for kind in sub._databases():
        db = sub._prepare(kind)
        if db is None:
            NOTES.append(f"{kind}: not reachable, skipped")
            continue
        try:
            results.extend(_run_database(db, seconds))
        finally:
            sub._discard(db)
    return results
