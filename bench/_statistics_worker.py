"""Worker process for ``bench/online_statistics.py``: one fresh interpreter per command, against the
database the environment names (``MADOGUCHI_DATA_DIR`` / ``MADOGUCHI_DATABASE_URL``).

    python bench/_statistics_worker.py COMMAND 'JSON-ARGUMENTS'

prints one line ``BENCH-RESULT {json}``.
"""

from __future__ import annotations

import io
import json
import os
import statistics
import sys
import time
from typing import Any

FIRST_YEAR = 2020
MUNICIPAL_KINDS = ("designated_city", "city", "town", "village", "special_ward")


def _category_list(categories: int) -> Any:
    from madoguchi.stats.categories import Category, CategoryList, Source

    return CategoryList(
        code="bench",
        name=f"ベンチマーク用の{categories}手続",
        version="bench",
        source=Source(title="bench", publisher="bench", url="", published=""),
        first_fiscal_year=FIRST_YEAR,
        last_fiscal_year=None,
        categories=tuple(
            Category(code=f"bench-{i:02d}", name=f"手続{i:02d}") for i in range(1, categories + 1)
        ),
    )


def setup(*, municipalities: int, categories: int, years: int) -> dict[str, Any]:
    """Migrate, load the organisation master, give organisations a population, and bulk-load
    ``municipalities × categories × years × 12`` monthly imported count rows (COPY on
    PostgreSQL, one executemany in one transaction on SQLite), then ANALYZE."""
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.db.models import F

    from madoguchi.core.time import now
    from madoguchi.stats.models import CountImport
    from madoguchi.tenants.models import Organisation
    from madoguchi.tenants.services import organisation_master_load

    call_command("migrate", interactive=False, verbosity=0, stdout=io.StringIO())
    organisation_master_load(now=now())
    Organisation.objects.exclude(kind="ward").update(population=F("id") * 37 + 10_000)
    chosen = list(
        Organisation.objects.filter(kind__in=MUNICIPAL_KINDS, active=True)
        .order_by("lg_code")
        .values_list("pk", flat=True)[:municipalities]
    )
    batch = CountImport.objects.create(
        file_name="bench.csv",
        file_sha256="0" * 64,
        encoding="utf-8",
        rows=0,
        imported_at=now(),
    )

    def rows() -> Any:
        for n, org in enumerate(chosen):
            for c in range(1, categories + 1):
                for year in range(FIRST_YEAR, FIRST_YEAR + years):
                    for month in range(1, 13):
                        total = (n * 7 + c * 13 + month * 3 + year) % 500 + 1
                        online = total * (c % 10 + 1) // 12
                        yield (org, f"bench-{c:02d}", year, month, total, online, batch.pk)

    columns = "organisation_id, category_code, fiscal_year, month, total, online, batch_id"
    insert = (
        "INSERT INTO stats_importedcount (organisation_id, category_code, fiscal_year, month, "
        "total, online, batch_id) VALUES (%s, %s, %s, %s, %s, %s, %s)"
    )
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            raw = cursor.cursor
            with raw.copy(f"COPY stats_importedcount ({columns}) FROM STDIN") as copy:  # type: ignore[attr-defined]
                for row in rows():
                    copy.write_row(row)
        else:
            cursor.executemany(insert, rows())
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    loaded = time.perf_counter() - started
    from madoguchi.stats.models import ImportedCount

    return {
        "rows": ImportedCount.objects.count(),
        "organisations": len(chosen),
        "load_seconds": loaded,
        "vendor": connection.vendor,
    }


def _everything(category_list: Any, years: range, municipalities: int) -> int:
    """Every figure, recomputed: the table of each municipality loaded for each year, each
    of their prefectures' tables for each year, and the national table. Returns the number
    of tables (and checks that they add up)."""
    from madoguchi.stats.figures import (
        figures_cache_clear,
        national_table,
        organisation_table,
        prefecture_table,
    )
    from madoguchi.tenants.models import Organisation

    figures_cache_clear()
    organisations = list(
        Organisation.objects.filter(kind__in=MUNICIPAL_KINDS, active=True).order_by("lg_code")[
            :municipalities
        ]
    )
    prefectures = sorted({org.prefecture_code for org in organisations})
    tables = 0
    municipal_sum = 0
    for year in years:
        for organisation in organisations:
            table = organisation_table(
                organisation=organisation, category_list=category_list, fiscal_year=year
            )
            municipal_sum += table.total.current.total
            tables += 1
        for code in prefectures:
            prefecture_table(prefecture_code=code, category_list=category_list, fiscal_year=year)
            tables += 1
    national = national_table(category_list=category_list)
    assert sum(y.plain.total for y in national.years) == municipal_sum, "figures do not add up"
    return tables + 1


def _baseline() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT organisation_id, category_code, fiscal_year, SUM(total), SUM(online) "
            "FROM stats_importedcount GROUP BY organisation_id, category_code, fiscal_year"
        )
        return len(cursor.fetchall())


def measure(*, municipalities: int, categories: int, years: int, rounds: int) -> dict[str, Any]:
    """``rounds`` alternating rounds of the full recompute and the baseline GROUP BY."""
    category_list = _category_list(categories)
    span = range(FIRST_YEAR, FIRST_YEAR + years)
    figure: list[float] = []
    baseline: list[float] = []
    tables = groups = 0
    _baseline()  # warm the page cache for both alike
    for _ in range(rounds):
        started = time.perf_counter()
        tables = _everything(category_list, span, municipalities)
        figure.append(time.perf_counter() - started)
        started = time.perf_counter()
        groups = _baseline()
        baseline.append(time.perf_counter() - started)

    def timing(samples: list[float]) -> dict[str, Any]:
        ordered = sorted(samples)
        return {
            "median": statistics.median(samples),
            "p95": ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))],
            "calls": len(samples),
            "rounds": len(samples),
            "spread": max(samples) / min(samples),
        }

    return {
        "tables": tables,
        "groups": groups,
        "figure": timing(figure),
        "baseline": timing(baseline),
    }


COMMANDS = {"setup": setup, "measure": measure}


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "madoguchi.conf.settings")
    import django

    django.setup()
    command, arguments = sys.argv[1], json.loads(sys.argv[2])
    result = COMMANDS[command](**arguments)
    print("BENCH-RESULT " + json.dumps(result), flush=True)  # noqa: T201 (the parent reads it)


if __name__ == "__main__":
    main()
