"""The lottery draw (抽選) at the size of a big city's month: 100,000 entries on 5,000 slots.

1. The pure draw (:func:`madoguchi.reservations.draw.draw`: tickets by HMAC-SHA256, rounds by
   choice rank) on 100,000 invented entrants with two choices each (one in ten a group of two
   consecutive コマ), against the baseline of sorting 100,000 random 32-byte keys — the least
   any draw that orders its entrants costs.
2. ``lottery_draw`` on SQLite in a fresh installation (a worker process): 5,000 slots, 20,000
   registrations with an account, 100,000 entries bulk-inserted; one call, which in one
   transaction publishes the entrant list, makes an OFFERED booking with its claims for every
   winning slot, marks entries, moves slot states and queues one mail per registration. Its
   baseline is the pure draw of the same published entrants, so the ratio is what the
   database work costs on top of the draw.

``BENCH_LOTTERY_ENTRIES`` / ``BENCH_LOTTERY_SLOTS`` change the sizes (``BENCH_QUICK=1``:
20,000 on 1,000).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

from _databases import discard, prepare, say
from _harness import Result, Settings, Timing, compare

WORKER = Path(__file__).resolve().parent / "_lottery_worker.py"
QUICK = bool(os.environ.get("BENCH_QUICK"))
ENTRIES = int(os.environ.get("BENCH_LOTTERY_ENTRIES", 20_000 if QUICK else 100_000))
SLOTS = int(os.environ.get("BENCH_LOTTERY_SLOTS", 1_000 if QUICK else 5_000))
TITLE = f"lottery draw of {ENTRIES:,} entries on {SLOTS:,} slots"
NOTES: list[str] = []
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def entrants(count: int, slots: int, rng: random.Random) -> list[object]:
    from madoguchi.reservations.draw import Entrant

    codes: set[str] = set()
    while len(codes) < count:
        codes.add("".join(rng.choice(CROCKFORD) for _ in range(8)))
    out = []
    for code in sorted(codes):
        choices = []
        for _ in range(2):
            first = rng.randrange(1, slots + 1)
            group = (first, first + 1) if rng.random() < 0.1 and first < slots else (first,)
            choices.append(group)
        if choices[0] == choices[1] or set(choices[0]) & set(choices[1]):
            choices = choices[:1]
        out.append(Entrant(code=code, choices=tuple(choices)))
    return out


def _single(seconds: float) -> Timing:
    return Timing(median=seconds, p95=seconds, calls=1, rounds=1, spread=1.0)


def run(settings: Settings) -> list[Result]:
    from madoguchi.reservations.draw import draw

    NOTES.clear()
    rng = random.Random(13)  # noqa: S311 (invented data, reproducible)
    people = entrants(ENTRIES, SLOTS, rng)
    keys = [rng.randbytes(32) for _ in range(ENTRIES)]
    seed = "bench-" + "0" * 58
    result = draw(seed=seed, entrants=people)  # type: ignore[arg-type]
    assert 0 < len(result.wins) <= SLOTS, len(result.wins)
    quick = Settings(rounds=min(settings.rounds, 3), round_seconds=0.1, warmup_seconds=0.0)
    results = [
        compare(
            "pure draw (draw.draw)",
            lambda: draw(seed=seed, entrants=people),  # type: ignore[arg-type]
            lambda: sorted(keys),
            f"sort {ENTRIES:,} random keys",
            quick,
        )
    ]
    NOTES.append(f"pure draw: {len(result.wins):,} winners of {ENTRIES:,} entrants")
    db = prepare("sqlite", "lottery")
    assert db is not None
    try:
        say(f"lottery, SQLite: installing, {SLOTS:,} slots and {ENTRIES:,} entries")
        started = time.perf_counter()
        done = subprocess.run(  # noqa: S603 (our interpreter, our script)
            [sys.executable, str(WORKER), json.dumps({"entries": ENTRIES, "slots": SLOTS})],
            env=db.env,
            capture_output=True,
            text=True,
            check=False,
            timeout=3600,
        )
        report = None
        for line in done.stdout.splitlines():
            if line.startswith("BENCH-RESULT "):
                report = json.loads(line.removeprefix("BENCH-RESULT "))
        assert report is not None, f"{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
        say(f"lottery, SQLite: done in {time.perf_counter() - started:.0f} s")
    finally:
        discard(db)
    results.append(
        Result(
            "lottery_draw, SQLite (one transaction)",
            _single(report["draw_seconds"]),
            _single(report["pure_seconds"]),
            "pure draw of the same entrants",
        )
    )
    NOTES.append(
        f"lottery_draw, SQLite: {report['winners']:,} winners, {report['bookings']:,} bookings "
        f"with claims, {report['mails']:,} mails queued; setup {report['setup_seconds']:.0f} s"
    )
    NOTES.append(
        f"  of which computed before the write lock (entries, choices, the draw): "
        f"{report['plan_seconds']:.2f} s; under the lock (stored in one transaction): about "
        f"{max(0.0, report['draw_seconds'] - report['plan_seconds']):.2f} s"
    )
    return results
