"""Hand-over exports of 100,000 applications: time and peak memory per format.

For each database (SQLite in a fresh data directory; PostgreSQL at 127.0.0.1:5432 when it
answers, in a database created for the run and dropped after it) this module:

1. installs Madoguchi afresh (``bootstrap``), adopts 保育所の利用申込 (a group of up to 5
   children: 93 columns) and bulk-inserts 100,000 applications made from 512 validated,
   encrypted answer sets (1–3 children, names with 髙 and 﨑; 1 in 64 with 𠮷 and 1 in 128
   with an emoji, which Shift_JIS cannot hold; a formula-like note);
2. runs each export in a fresh process, writing to /dev/null as the browser download would,
   timing it and reading the process's peak memory (VmHWM) before and after: Shift_JIS CSV
   (with its 〓 report) and xlsx (XlsxWriter, constant_memory), My Number masked;
3. in the same rounds, the baseline: a plain SQL query read in chunks of 2000 and
   ``csv.writer`` over the same rows (answers as one JSON column), encoded to Shift_JIS with
   ``errors="replace"`` — the least any export of these rows costs.

``BENCH_EXPORT_ROWS`` sets the row count (``BENCH_QUICK=1``: 20,000), ``BENCH_EXPORT_ROUNDS``
the rounds (default 1: one export of each kind and one baseline, alternating, which keeps
``make bench`` within its time), ``BENCH_EXPORT_KINDS`` the formats (default
``csv-sjis,xlsx``; add ``csv-utf8``); ``BENCH_DATABASES=sqlite`` or ``postgresql`` runs one.
"""

from __future__ import annotations

import os
import statistics

from _databases import chosen, discard, prepare, say, work
from _harness import Result, Settings, Timing

LABELS = {"csv-sjis": "Shift_JIS CSV", "csv-utf8": "UTF-8 CSV (BOM)", "xlsx": "xlsx"}
#: UTF-8 CSV costs what Shift_JIS does less the encoding checks; ask for it to see it.
KINDS = tuple(
    (kind, LABELS[kind])
    for kind in os.environ.get("BENCH_EXPORT_KINDS", "csv-sjis,xlsx").split(",")
    if kind in LABELS
)
BASELINE = "query + csv.writer"


def _rows() -> int:
    raw = os.environ.get("BENCH_EXPORT_ROWS")
    if raw:
        return int(raw)
    return 20_000 if os.environ.get("BENCH_QUICK") else 100_000


TITLE = f"export {_rows():,} applications of one procedure (93 columns); seconds per export"
#: Filled in by ``run``: rows, memory, sizes, replaced characters.
NOTES: list[str] = []


def _rounds() -> int:
    return int(os.environ.get("BENCH_EXPORT_ROUNDS", "1"))


def _timing(samples: list[float]) -> Timing:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return Timing(
        median=statistics.median(samples),
        p95=p95,
        calls=len(samples),
        rounds=len(samples),
        spread=max(samples) / min(samples),
    )


def _mib(kib: int) -> str:
    return f"{kib / 1024:.0f} MiB"


def run(settings: Settings) -> list[Result]:
    NOTES.clear()
    rows, rounds = _rows(), _rounds()
    results: list[Result] = []
    for kind in chosen():
        db = prepare(kind, "exports")
        if db is None:
            NOTES.append("PostgreSQL: not reachable (BENCH_POSTGRES_URL), skipped.")
            continue
        try:
            say(f"exports, {db.label}: installing and inserting {rows:,} applications")
            info = work(db, "setup-exports", rows=rows)
            samples: dict[str, list[float]] = {k: [] for k, _ in (("baseline", ""), *KINDS)}
            growth: dict[str, int] = {}
            peak: dict[str, int] = {}
            size: dict[str, int] = {}
            problems = 0
            for _ in range(rounds):
                for name in ("baseline", *(k for k, _ in KINDS)):
                    say(f"exports, {db.label}: {name}")
                    out = work(
                        db,
                        "measure-export",
                        kind=name,
                        procedure=info["procedure"],
                        staff=info["staff"],
                    )
                    assert out["rows"] == rows, out
                    samples[name].append(out["seconds"])
                    grown = out["hwm_after_kib"] - out["hwm_before_kib"]
                    growth[name] = max(growth.get(name, 0), grown)
                    peak[name] = max(peak.get(name, 0), out["hwm_after_kib"])
                    size[name] = out["bytes"]
                    if name == "csv-sjis":
                        problems = out["problems"]
            baseline = _timing(samples["baseline"])
            for name, label in KINDS:
                results.append(
                    Result(f"{label}, {db.label}", _timing(samples[name]), baseline, BASELINE)
                )
            per_row = {k: samples[k][0] / rows * 1e6 for k, _ in KINDS}
            NOTES.append(
                f"{db.label}: {rows:,} rows (inserted in {info['insert_seconds']:.0f} s); "
                + "; ".join(f"{label} {per_row[k]:.0f} µs/row" for k, label in KINDS)
            )
            NOTES.append(
                f"  peak memory growth during the export (VmHWM after − before): "
                f"baseline +{_mib(growth['baseline'])}, "
                + ", ".join(f"{label} +{_mib(growth[k])}" for k, label in KINDS)
                + f"; process peak {_mib(max(peak.values()))}"
            )
            NOTES.append(
                "  file sizes: "
                + ", ".join(f"{label} {size[k] / 1e6:.0f} MB" for k, label in KINDS)
                + f"; Shift_JIS: {problems:,} characters replaced by 〓 and reported"
            )
        finally:
            discard(db)
    NOTES.append(
        "memory is flat when the growth stays a few MiB while the file is tens of MB; "
        "baseline: plain SQL in chunks of 2000 + csv.writer, answers as one JSON column."
    )
    return results
