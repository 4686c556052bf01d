"""Recomputing every figure of the online usage statistics from count rows, on SQLite and
PostgreSQL, beside a plain SQL GROUP BY over the same rows.

For each database (a fresh one per run, dropped after it) the module loads the organisation
master and ``municipalities × 60 categories × 5 fiscal years × 12 months`` monthly imported
count rows (``ImportedCount``, the carrier of counts from other systems; COPY on PostgreSQL,
one executemany on SQLite), then ANALYZE. One *recompute* is, through
``madoguchi.stats.figures`` with its cache cleared first: the table of every municipality
loaded for every fiscal year (each with its year before), the prefecture table of each of
their prefectures for every fiscal year, and the national table (which must equal the sum of
the municipalities' tables, or the run fails). The baseline is one
``SELECT … SUM(total), SUM(online) … GROUP BY organisation, category, fiscal year`` over the
same rows, fetched. Each recompute takes seconds, so the rounds time one call each
(``--rounds``, default 7; 3 with ``BENCH_QUICK``).

1,741 municipalities by default; ``BENCH_QUICK=1`` loads 174 (a tenth) and ``BENCH_STATS_
MUNICIPALITIES`` sets any number. ``BENCH_DATABASES`` chooses the databases (default both).

(Named ``online_statistics`` because a ``bench/statistics.py`` would shadow the standard
library's ``statistics``, which the harness imports.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from _databases import Database, chosen, discard, prepare, say
from _harness import Result, Settings, Timing

WORKER = Path(__file__).resolve().parent / "_statistics_worker.py"
CATEGORIES = 60
YEARS = 5


def _municipalities() -> int:
    raw = os.environ.get("BENCH_STATS_MUNICIPALITIES")
    if raw:
        return int(raw)
    return 174 if os.environ.get("BENCH_QUICK") else 1_741


TITLE = (
    f"recompute every figure: {_municipalities():,} municipalities × {CATEGORIES} categories "
    f"× {YEARS} fiscal years × 12 months, vs one GROUP BY"
)
NOTES: list[str] = []


def _work(db: Database, command: str, **arguments: Any) -> dict[str, Any]:
    done = subprocess.run(  # noqa: S603 (our interpreter, our script)
        [sys.executable, str(WORKER), command, json.dumps(arguments)],
        env=db.env,
        capture_output=True,
        text=True,
        check=False,
        timeout=3600,
    )
    for line in done.stdout.splitlines():
        if line.startswith("BENCH-RESULT "):
            result: dict[str, Any] = json.loads(line.removeprefix("BENCH-RESULT "))
            return result
    raise AssertionError(
        f"{command} failed on {db.label}:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    )


def run(settings: Settings) -> list[Result]:
    NOTES.clear()
    municipalities = _municipalities()
    rounds = min(settings.rounds, 3) if os.environ.get("BENCH_QUICK") else settings.rounds
    results = []
    for kind in chosen():
        db = prepare(kind, "statistics")
        if db is None:
            NOTES.append(f"{kind}: skipped, not reachable (set BENCH_POSTGRES_URL).")
            continue
        try:
            say(f"statistics: loading count rows ({db.label})")
            info = _work(
                db, "setup", municipalities=municipalities, categories=CATEGORIES, years=YEARS
            )
            say(f"statistics: recomputing every figure ({db.label})")
            out = _work(
                db,
                "measure",
                municipalities=municipalities,
                categories=CATEGORIES,
                years=YEARS,
                rounds=rounds,
            )
        finally:
            discard(db)
        NOTES.append(
            f"{db.label}: {info['rows']:,} rows of {info['organisations']:,} municipalities "
            f"loaded in {info['load_seconds']:.1f} s; one recompute = {out['tables']:,} tables; "
            f"the baseline returns {out['groups']:,} groups."
        )
        results.append(
            Result(
                f"all figures ({db.label})",
                Timing(**out["figure"]),
                Timing(**out["baseline"]),
                "GROUP BY",
            )
        )
    NOTES.append(
        "figure: organisation_table × municipalities × years, prefecture_table × prefectures "
        "× years, national_table (cache cleared first); baseline: one plain SQL GROUP BY."
    )
    return results
