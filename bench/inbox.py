"""The staff inbox (受付一覧) with 1,000,000 applications in PostgreSQL: p50 and p95 per page.

In a PostgreSQL database created for the run (and dropped after it) this module installs
Madoguchi (``bootstrap``), adopts two procedures (住民票, 粗大ごみ) in each of five
organisations, and inserts 1,000,000 applications with one ``INSERT … SELECT
generate_series`` — a fifth per organisation, one minute apart, five statuses — then
``ANALYZE``. It then times, through ``madoguchi.applications.inbox.inbox_page`` (the ORM
query and the row building the console uses, 50 rows, no COUNT):

- the first page of one organisation (newest first);
- the page after 10,000 rows, reached by keyset (the cursor of the page before);
- the first page filtered by one procedure and one status;

each beside the baseline, a plain ``SELECT * … ORDER BY id DESC LIMIT 50`` (at the same depth
for the deep page: ``WHERE id < …``) on the same connection.

Without PostgreSQL (``BENCH_POSTGRES_URL``, default ``postgres://postgres@127.0.0.1:5432/
postgres``) the module is skipped with a note. ``BENCH_INBOX_ROWS`` sets the row count
(``BENCH_QUICK=1``: 100,000), ``BENCH_INBOX_DEPTH`` the deep page (default 10,000).
"""

from __future__ import annotations

import os

from _databases import discard, prepare, say, work
from _harness import Result, Settings, Timing


def _rows() -> int:
    raw = os.environ.get("BENCH_INBOX_ROWS")
    if raw:
        return int(raw)
    return 100_000 if os.environ.get("BENCH_QUICK") else 1_000_000


TITLE = f"inbox page of 50 (keyset, no COUNT) among {_rows():,} applications, PostgreSQL"
NOTES: list[str] = []


def _result(data: dict[str, object]) -> Result:
    figure = data["figure"]
    baseline = data["baseline"]
    assert isinstance(figure, dict)
    assert isinstance(baseline, dict) or baseline is None
    return Result(
        str(data["name"]),
        Timing(**figure),
        Timing(**baseline) if baseline else None,
        str(data["baseline_name"]),
    )


def run(settings: Settings) -> list[Result]:
    NOTES.clear()
    rows = _rows()
    # Each organisation holds a fifth of the rows; a quick run pages half way down its own.
    depth = min(int(os.environ.get("BENCH_INBOX_DEPTH", "10000")), rows // 10 // 200 * 200)
    db = prepare("postgresql", "inbox")
    if db is None:
        NOTES.append("skipped: PostgreSQL is not reachable (set BENCH_POSTGRES_URL).")
        return []
    try:
        say(f"inbox: installing and inserting {rows:,} applications (PostgreSQL)")
        info = work(db, "setup-inbox", rows=rows)
        say("inbox: measuring")
        out = work(
            db,
            "measure-inbox",
            organisation=info["organisation"],
            procedure=info["procedure"],
            deep=depth,
            rounds=settings.rounds,
            round_seconds=settings.round_seconds,
        )
    finally:
        discard(db)
    NOTES.append(
        f"{rows:,} applications inserted in {info['insert_seconds']:.0f} s "
        f"(INSERT … SELECT generate_series, secondary indexes built after it, ANALYZE); "
        f"{out['organisation_rows']:,} of them belong to the organisation paged."
    )
    NOTES.append(
        "figure: inbox_page() — the ORM query with the organisation scope, keyset cursor, "
        "select_related and the applicant's name per row; baseline: the bare SQL by id."
    )
    return [_result(r) for r in out["results"]]
