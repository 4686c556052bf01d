"""Worker processes for ``bench/exports.py`` and ``bench/inbox.py``.

Each command runs in a fresh interpreter against the database named by the environment
(``MADOGUCHI_DATA_DIR`` / ``MADOGUCHI_DATABASE_URL``), so that the peak memory of one export
is that export's own, and the benchmark process keeps its own settings.

    python bench/_volume_worker.py COMMAND 'JSON-ARGUMENTS'

prints one line ``BENCH-RESULT {json}``.
"""

from __future__ import annotations

import csv
import io
import json
import os
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import timedelta
from typing import Any

TEMPLATE = "hoiku-moushikomi"
FAMILIES = (
    "髙橋",
    "佐藤",
    "鈴木",
    "田中",
    "渡辺",
    "伊藤",
    "山本",
    "中村",
    "小林",
    "加藤",
    "吉田",
    "山﨑",
)
GIVENS = (("花子", "ハナコ"), ("太郎", "タロウ"), ("陽菜", "ヒナ"), ("蓮", "レン"), ("結衣", "ユイ"), ("湊", "ミナト"))  # fmt: skip
KANA = {"髙橋": "タカハシ", "佐藤": "サトウ", "鈴木": "スズキ", "田中": "タナカ", "渡辺": "ワタナベ", "伊藤": "イトウ", "山本": "ヤマモト", "中村": "ナカムラ", "小林": "コバヤシ", "加藤": "カトウ", "吉田": "ヨシダ", "山﨑": "ヤマサキ", "𠮷田": "ヨシダ"}  # fmt: skip
FACILITIES = ("横浜市立みなと保育園", "さくら保育園", "ひまわりこども園", "山下町保育室")
NOTES = (
    "",
    "きょうだいが同じ園に在園しています。",
    "ひとり親家庭です。\n平日の日中は勤務のため、連絡は夕方にお願いします。",
    "卵アレルギーがあります（医師の診断書あり）。",
    '=HYPERLINK("http://example.com","詳細")',
    "〜通勤の都合で駅に近い園を希望します〜",
)
STATUSES = ("submitted", "accepted", "in_review", "approved", "rejected")
POOL = 512


def _hwm_kib() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


# --- exports ----------------------------------------------------------------------------------


def _answer_pool(procedure: Any) -> list[dict[str, Any]]:
    """512 realistic, validated, stored-form answers: 1–3 children, names with 髙 and 﨑,
    1 in 64 with 𠮷 and 1 in 128 with an emoji (not in Shift_JIS), a formula-like note."""
    from madoguchi.applications.services import protect_answers
    from madoguchi.core.time import now, to_tokyo
    from madoguchi.forms.base import Context, field_types
    from madoguchi.forms.engine import validate
    from madoguchi.forms.japanese import my_number_check_digit
    from madoguchi.forms.selectors import form_spec

    spec = form_spec(procedure.form_version)
    today = to_tokyo(now()).date()
    ctx = Context(today=today)

    def my_number(seed: int) -> str:
        base = f"{(seed * 7919 + 10**10) % 10**11:011d}"
        return base + str(my_number_check_digit(base))

    base: dict[str, Any] = {}
    for f in spec.fields:
        kind = field_types[f.type]
        if f.type == "group":
            child = {
                c.key: field_types[c.type].example(c, ctx)
                for c in f.fields
                if field_types[c.type].has_value and c.type != "attachment"
            }
            base[f.key] = [child]
        elif kind.has_value and f.type not in ("computed", "attachment"):
            base[f.key] = kind.example(f, ctx)
    pool = []
    for i in range(POOL):
        family = "𠮷田" if i % 64 == 63 else FAMILIES[i % len(FAMILIES)]
        given, given_kana = GIVENS[i % len(GIVENS)]
        answers = json.loads(json.dumps(base))
        answers["guardian_name"] = {
            "family": family,
            "given": given,
            "family_kana": KANA[family],
            "given_kana": given_kana,
        }
        answers["guardian_my_number"] = my_number(i)
        answers["g1_reason"] = "job_seeking" if i % 3 else "study"
        answers["has_guardian2"] = "no"
        answers["notes"] = NOTES[i % len(NOTES)] + ("😀" if i % 128 == 127 else "")
        template = answers["children"][0]
        answers["children"] = [
            {
                **template,
                "name": {
                    "family": family,
                    "given": ("一郎", "二葉", "三郎")[n],
                    "family_kana": KANA[family],
                    "given_kana": ("イチロウ", "フタバ", "サブロウ")[n],
                },
                "my_number": my_number(i * 10 + n + 1),
                "facility_1": FACILITIES[(i + n) % len(FACILITIES)],
                "facility_2": FACILITIES[(i + n + 1) % len(FACILITIES)],
            }
            for n in range(1 + i % 3)
        ]
        result = validate(spec, answers, today=today)
        assert result.ok, result.errors
        pool.append(protect_answers(spec, result.answers))
    return pool


def setup_exports(*, rows: int) -> dict[str, Any]:
    """A fresh installation with ``rows`` applications of one procedure (bulk-inserted)."""
    from django.core.management import call_command
    from django.db import connection, transaction

    from madoguchi.applications.models import receipt_search_keys
    from madoguchi.catalog.selectors import template_version_get
    from madoguchi.catalog.services import procedure_adopt
    from madoguchi.core.time import now
    from madoguchi.identity.constants import StaffRole
    from madoguchi.identity.services import staff_upsert
    from madoguchi.tenants.models import Organisation

    call_command("bootstrap", stdout=io.StringIO())
    organisation = Organisation.objects.get(lg_code="141003")
    procedure = procedure_adopt(
        organisation=organisation, template_version=template_version_get(slug=TEMPLATE), now=now()
    )
    staff = staff_upsert(
        organisation=organisation,
        email="bench-admin@yokohama.test",
        password="bench correct horse battery 42",  # noqa: S106 (a throw-away database)
        role=StaffRole.ADMIN,
    )
    pool = [json.dumps(answers) for answers in _answer_pool(procedure)]
    started = time.perf_counter()
    first = now() - timedelta(days=365)
    step = timedelta(days=365) / max(rows, 1)
    # Plain executemany with the answers serialised once: bulk_create spends most of its
    # time serialising the same 512 answer sets again for every row.
    columns = (
        "INSERT INTO applications_application (organisation_id, procedure_id, "
        "form_version_id, contact_email, receipt_number, idempotency_scope, idempotency_key, "
        "arrived_at, answers, answers_digest, status, revision, channel, search_name, "
        "updated_at, ial, aal, identity, receipt_digits, receipt_reversed, language) "
    )
    if connection.vendor == "postgresql":
        values = (
            "VALUES (%s, %s, %s, '', %s, 'bench', %s, %s, %s::jsonb, %s, %s, 1, 'online', '', %s,"
            " 1, 1, '{}'::jsonb, %s, %s, 'ja')"
        )
    else:
        values = (
            "VALUES (%s, %s, %s, '', %s, 'bench', %s, %s, %s, %s, %s, 1, 'online', '', %s,"
            " 1, 1, '{}', %s, %s, 'ja')"
        )
    sql = columns + values
    batch = 5000
    moment = now()
    with transaction.atomic(), connection.cursor() as cursor:
        for offset in range(0, rows, batch):
            cursor.executemany(
                sql,
                [
                    (
                        organisation.pk,
                        procedure.pk,
                        procedure.form_version_id,
                        f"141003-B{i:09d}",
                        f"bench-{i}",
                        first + step * i,
                        pool[i % POOL],
                        "0" * 64,
                        STATUSES[i % len(STATUSES)],
                        moment,
                        *receipt_search_keys(f"141003-B{i:09d}"),
                    )
                    for i in range(offset, min(offset + batch, rows))
                ],
            )
    return {
        "procedure": procedure.pk,
        "staff": staff.pk,
        "rows": rows,
        "insert_seconds": time.perf_counter() - started,
    }


def _baseline(procedure_id: int, sink: io.BufferedWriter) -> tuple[int, int]:
    """A plain query and ``csv.writer`` over the same rows (answers as their JSON text),
    Shift_JIS with ``errors="replace"``, read in chunks of 2000 like the export."""
    from django.db import connection

    rows = 0
    written = 0
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    with connection.chunked_cursor() as cursor:
        cursor.execute(
            "SELECT receipt_number, arrived_at, status, revision, answers "
            "FROM applications_application WHERE procedure_id = %s ORDER BY arrived_at, id",
            [procedure_id],
        )
        while chunk := cursor.fetchmany(2000):
            writer.writerows(chunk)
            data = buffer.getvalue().encode("cp932", errors="replace")
            buffer.seek(0)
            buffer.truncate()
            written += sink.write(data)
            rows += len(chunk)
    return rows, written


def measure_export(*, kind: str, procedure: int, staff: int) -> dict[str, Any]:
    """One export (or the baseline) into /dev/null: seconds, bytes and memory."""
    from django.db import connection

    from madoguchi.catalog.models import Procedure
    from madoguchi.core.time import now
    from madoguchi.identity.models import Staff
    from madoguchi.integrations.exports import (
        ExportOptions,
        applications_export,
        export_layout,
    )

    item = Procedure.objects.select_related("organisation", "form_version").get(pk=procedure)
    member = Staff.objects.select_related("organisation", "user").get(pk=staff)
    export_layout(procedure=item)  # warm: specs parsed, modules imported, as in a server
    connection.ensure_connection()
    with open(os.devnull, "wb") as sink:
        before = _hwm_kib()
        started = time.perf_counter()
        problems = 0
        if kind == "baseline":
            rows, written = _baseline(procedure, sink)
        else:
            prepared = applications_export(
                organisation=item.organisation,
                procedure=item,
                staff=member,
                options=ExportOptions(format=kind),
                now=now(),
            )
            written = 0
            for chunk in prepared.chunks:
                written += sink.write(chunk)
            rows = prepared.rows
            problems = len(prepared.problems)
        seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "rows": rows,
        "bytes": written,
        "problems": problems,
        "hwm_before_kib": before,
        "hwm_after_kib": _hwm_kib(),
    }


# --- inbox ------------------------------------------------------------------------------------

INBOX_ORGANISATIONS = ("141003", "142042", "141305", "141500", "142018")
INBOX_TEMPLATES = ("juminhyo", "sodai-gomi")


def setup_inbox(*, rows: int) -> dict[str, Any]:
    """``rows`` applications over 5 organisations × 2 procedures × 5 statuses, inserted by
    one ``INSERT … SELECT generate_series`` (PostgreSQL), indexes built, then ANALYZE."""
    from django.core.management import call_command
    from django.db import connection

    from madoguchi.catalog.selectors import template_version_get
    from madoguchi.catalog.services import procedure_adopt
    from madoguchi.core.time import now
    from madoguchi.tenants.models import Organisation

    call_command("bootstrap", stdout=io.StringIO())
    procedures = []
    for code in INBOX_ORGANISATIONS:
        organisation = Organisation.objects.get(lg_code=code)
        for slug in INBOX_TEMPLATES:
            procedures.append(
                procedure_adopt(
                    organisation=organisation,
                    template_version=template_version_get(slug=slug),
                    now=now(),
                )
            )
    answers = json.dumps(
        {
            "requester_name": {
                "family": "髙橋",
                "given": "花子",
                "family_kana": "タカハシ",
                "given_kana": "ハナコ",
            },
            "requester_birth_date": "1985-04-01",
            "requester_address": {
                "postal_code": "2310023",
                "prefecture": "神奈川県",
                "city": "横浜市中区",
                "town": "山下町",
                "block": "1-1",
                "building": "",
            },
            "requester_phone": "045-671-2121",
            "certificate_type": "current",
            "persons": "self",
            "copies": 2,
            "purpose": "employment",
            "fee": 600,
            "delivery_to": "registered",
            "truth": True,
        },
        ensure_ascii=False,
    )
    started = time.perf_counter()
    count = len(procedures)
    with connection.cursor() as cursor:
        # Indexes that are not constraints are dropped and built again after the insert: one
        # sorted build each is several times quicker than a million single updates. The
        # definitions come from the catalogue, so they are exactly the migrations' ones.
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes "
            "WHERE tablename = 'applications_application' AND indexname NOT IN "
            "(SELECT conname FROM pg_constraint "
            "WHERE conrelid = 'applications_application'::regclass)"
        )
        indexes = cursor.fetchall()
        for name, _ in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
        cursor.execute("SET maintenance_work_mem = '256MB'")
        # Rows are spread over the procedures (g % count), so that each organisation holds a
        # fifth; arrivals go back one minute per row from now; statuses rotate.
        cursor.execute(
            """
            INSERT INTO applications_application (
                organisation_id, procedure_id, form_version_id, applicant_id, contact_email,
                receipt_number, idempotency_scope, idempotency_key, arrived_at, answers,
                answers_digest, status, revision, channel, assignee_id, due_at, search_name,
                updated_at, ial, aal, identity, receipt_digits, receipt_reversed, language)
            SELECT p.orgs[1 + g %% %(count)s], p.ids[1 + g %% %(count)s],
                   p.versions[1 + g %% %(count)s], NULL, 'bench@example.jp',
                   r.number, 'bench', 'bench-' || g,
                   r.arrived, %(answers)s::jsonb,
                   repeat('0', 64), (ARRAY['submitted','accepted','in_review','approved',
                   'rejected'])[1 + (g / 7) %% 5], 1, 'online', NULL,
                   r.arrived + interval '7 days', 'タカハシハナコ', now(), 1, 1, '{}'::jsonb,
                   replace(r.number, '-', ''), reverse(replace(r.number, '-', '')), 'ja'
            FROM generate_series(1, %(rows)s) AS g,
                 (SELECT array_agg(c.id ORDER BY c.id) AS ids,
                         array_agg(c.organisation_id ORDER BY c.id) AS orgs,
                         array_agg(o.lg_code ORDER BY c.id) AS codes,
                         array_agg(c.form_version_id ORDER BY c.id) AS versions
                  FROM catalog_procedure c JOIN tenants_organisation o
                       ON o.id = c.organisation_id
                  WHERE c.id = ANY(%(procedures)s)) AS p,
                 -- 団体コード-YYMMDD-8桁 as submissions make them; the serial is g times an
                 -- odd number not divisible by 5, modulo 10^8: unique and scattered.
                 LATERAL (SELECT now() - g * interval '1 minute' AS arrived) AS t,
                 LATERAL (SELECT p.codes[1 + g %% %(count)s] || '-'
                                 || to_char(t.arrived AT TIME ZONE 'Asia/Tokyo', 'YYMMDD')
                                 || '-' || lpad(((g::bigint * 2654435761) %% 100000000)::text,
                                                8, '0') AS number,
                                 t.arrived) AS r
            """,
            {
                "count": count,
                "answers": answers,
                "rows": rows,
                "procedures": [p.pk for p in procedures],
            },
        )
        for _, definition in indexes:
            cursor.execute(definition)
        cursor.execute("ANALYZE applications_application")
    return {
        "organisation": procedures[0].organisation_id,
        "procedure": procedures[0].pk,
        "rows": rows,
        "insert_seconds": time.perf_counter() - started,
    }


def measure_inbox(
    *, organisation: int, procedure: int, deep: int, rounds: int, round_seconds: float
) -> dict[str, Any]:
    """p50/p95 of the inbox's first page, a page ``deep`` rows down (keyset), a filtered
    first page, each beside a plain ``SELECT … ORDER BY id LIMIT 50`` at the same depth."""
    from django.db import connection

    from _harness import Settings, compare
    from madoguchi.applications.inbox import InboxFilters, inbox_page
    from madoguchi.applications.models import Application
    from madoguchi.core.time import now
    from madoguchi.tenants.models import Organisation

    settings = Settings(rounds=rounds, round_seconds=round_seconds)
    org = Organisation.objects.get(pk=organisation)
    moment = now()
    everything = InboxFilters()
    filtered = InboxFilters(procedure_id=procedure, statuses=("in_review",))
    after = None
    for _ in range(deep // 200):
        page = inbox_page(organisation=org, filters=everything, now=moment, after=after, limit=200)
        after = page.next_cursor
    assert after is not None

    def first() -> object:
        page = inbox_page(organisation=org, filters=everything, now=moment)
        assert len(page.rows) == 50
        return page

    def deep_page() -> object:
        page = inbox_page(organisation=org, filters=everything, now=moment, after=after)
        assert len(page.rows) == 50
        assert not page.cursor_rejected
        return page

    def first_filtered() -> object:
        page = inbox_page(organisation=org, filters=filtered, now=moment)
        assert len(page.rows) == 50
        return page

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM applications_application WHERE organisation_id = %s "
            "ORDER BY id DESC OFFSET %s LIMIT 1",
            [organisation, deep],
        )
        (deep_id,) = cursor.fetchone()
        cursor.execute(
            "SELECT receipt_number FROM applications_application WHERE organisation_id = %s "
            "ORDER BY id OFFSET %s LIMIT 1",
            [organisation, deep],
        )
        (known,) = cursor.fetchone()
    # What a caller reads out: the last four digits, and the whole 8-digit serial.
    serial = known.rsplit("-", 1)[1]
    tail = serial[-4:]

    def receipt_search(digits: str) -> Callable[[], object]:
        filters = InboxFilters(q=digits)

        def run() -> object:
            page = inbox_page(organisation=org, filters=filters, now=moment)
            assert known in [row.application.receipt_number for row in page.rows]
            return page

        return run

    def receipt_like(digits: str) -> Callable[[], object]:
        """Before: the same page by ``LIKE '%…'`` (what a suffix search is without the
        reversed-digits column): no B-tree can serve it, so the organisation's rows are read."""

        def run() -> object:
            rows = list(
                Application.objects.filter(organisation=org, receipt_number__endswith=digits)
                .order_by("-arrived_at", "-id")
                .select_related("procedure", "assignee", "form_version")[:51]
            )
            assert known in [a.receipt_number for a in rows]
            return rows

        return run

    def plain(below: int | None) -> Callable[[], object]:
        def run() -> object:
            with connection.cursor() as cursor:
                if below is None:
                    cursor.execute(
                        "SELECT * FROM applications_application ORDER BY id DESC LIMIT 50"
                    )
                else:
                    cursor.execute(
                        "SELECT * FROM applications_application WHERE id < %s "
                        "ORDER BY id DESC LIMIT 50",
                        [below],
                    )
                rows = cursor.fetchall()
            assert len(rows) == 50
            return rows

        return run

    results = [
        compare("first page (50, newest)", first, plain(None), "SELECT … LIMIT 50 by id", settings),
        compare(
            f"page after {deep:,} rows (keyset)",
            deep_page,
            plain(deep_id),
            "same, WHERE id < …",
            settings,
        ),
        compare(
            "first page, one procedure + status",
            first_filtered,
            plain(None),
            "SELECT … LIMIT 50 by id",
            settings,
        ),
        compare(
            f"receipt search, last 4 digits ({tail})",
            receipt_search(tail),
            receipt_like(tail),
            "before: LIKE '%…' scan",
            settings,
        ),
        compare(
            f"receipt search, 8-digit serial ({serial})",
            receipt_search(serial),
            receipt_like(serial),
            "before: LIKE '%…' scan",
            settings,
        ),
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM applications_application WHERE organisation_id = %s",
            [organisation],
        )
        (own,) = cursor.fetchone()
    return {"results": [asdict(r) for r in results], "organisation_rows": own}


COMMANDS: dict[str, Callable[..., dict[str, Any]]] = {
    "setup-exports": setup_exports,
    "measure-export": measure_export,
    "setup-inbox": setup_inbox,
    "measure-inbox": measure_inbox,
}


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "madoguchi.conf.settings")
    import django

    django.setup()
    command, arguments = sys.argv[1], json.loads(sys.argv[2])
    result = COMMANDS[command](**arguments)
    print("BENCH-RESULT " + json.dumps(result), flush=True)  # noqa: T201 (the parent reads it)


if __name__ == "__main__":
    main()
