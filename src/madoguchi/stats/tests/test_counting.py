"""Counts by channel are derived from the applications: exact, never a counter row."""

from __future__ import annotations

from datetime import UTC, date, datetime

from madoguchi.applications.models import Application
from madoguchi.applications.selectors import arrival_counts
from madoguchi.stats.categories import category_find, category_lists, name_key
from madoguchi.testing import procedure_publish, submit, valid_answers


def test_counts_by_month_in_japan_time_without_test_applications(organisation, resident):
    procedure = procedure_publish(organisation, "sodai-gomi")
    # 14:30 UTC on 31 March is 23:30 in Japan (March, fiscal 2024); 15:30 UTC is 1 April.
    march = submit(procedure, resident, valid_answers(procedure)).application
    april = submit(procedure, resident, valid_answers(procedure)).application
    tester = submit(procedure, resident, valid_answers(procedure)).application
    Application.objects.filter(pk=march.pk).update(
        arrived_at=datetime(2025, 3, 31, 14, 30, tzinfo=UTC)
    )
    Application.objects.filter(pk=april.pk).update(
        arrived_at=datetime(2025, 3, 31, 15, 30, tzinfo=UTC)
    )
    Application.objects.filter(pk=tester.pk).update(is_test=True)

    rows = arrival_counts(organisation_ids=[organisation.pk])

    assert [(r.month, r.channel, r.count) for r in rows] == [
        (date(2025, 3, 1), "online", 1),
        (date(2025, 4, 1), "online", 1),
    ]
    assert arrival_counts(since=date(2025, 4, 1)) == rows[1:]
    assert arrival_counts(until=date(2025, 3, 31)) == rows[:1]
    assert arrival_counts(organisation_ids=[organisation.pk + 10_000]) == []


def test_a_category_is_found_by_code_and_by_its_name_after_nfkc():
    assert category_lists()
    eltax = category_find("地方税申告手続(eLTAX)")
    assert eltax is not None
    assert eltax.code == category_find("eltax-filing").code  # type: ignore[union-attr]
    assert category_find("　地方税申告手続（ＥＬＴＡＸ）") == eltax
    assert category_find("存在しない手続") is None
    assert name_key("（ｅＬＴＡＸ）") == "(eltax)"
