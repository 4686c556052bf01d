"""Staff and possible duplicates: the panel on the application page, the inbox filter, the
recorded decision (and its hostile inputs), and the rule in the procedure settings."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from madoguchi.applications.models import DuplicateResolution
from madoguchi.audit.models import AuditEvent
from madoguchi.catalog.constants import Uniqueness
from madoguchi.catalog.models import Procedure
from madoguchi.core.time import now
from madoguchi.testing import console_login, procedure_with_rule, rule_answers, submit


def text(response: Any) -> str:
    return str(response.content.decode())


def page_url(application: Any) -> str:
    return f"/console/applications/{application.pk}/"


def resolve_url(application: Any) -> str:
    return f"/console/applications/{application.pk}/duplicates/"


@pytest.fixture
def pair(organisation, resident, other_resident) -> tuple[Any, Any, Any]:
    """Two applications by the same person (two accounts) to a procedure without a rule,
    and one by somebody else."""
    procedure = procedure_with_rule(organisation, Uniqueness.NONE)
    first = submit(procedure, resident, rule_answers()).application
    second = submit(
        procedure, other_resident, rule_answers("山田", "花子", block="9-9")
    ).application
    stranger = submit(
        procedure, resident, rule_answers("鈴木", "一郎", "1990-01-01", "5-5")
    ).application
    return first, second, stranger


def test_the_application_page_shows_possible_duplicates_side_by_side(staff_client, pair):
    first, second, stranger = pair

    page = text(staff_client.get(page_url(second)))

    assert "重複の可能性（1件、未判断 1件）" in page
    panel = page[page.index('id="duplicates-section"') :]
    panel = panel[: panel.index("</section>")]
    assert f'href="/console/applications/{first.pk}/"' in panel
    assert first.receipt_number in panel
    assert f"{second.receipt_number}（この申請）" in panel
    assert stranger.receipt_number not in panel
    assert "オンライン" in panel
    assert "<td>同じ方</td>" in panel
    assert "<td>同じ方、同じ世帯（住所）</td>" not in panel  # moved: another address
    assert panel.count("山田 花子") == 2
    assert "〒231-0023 神奈川県横浜市中区山下町1-1" in panel
    assert "神奈川県横浜市中区山下町9-9" in panel
    assert "判断を記録する" in panel


def test_an_application_without_duplicates_shows_no_panel(staff_client, pair):
    page = text(staff_client.get(page_url(pair[2])))

    assert 'id="duplicates-section"' not in page


def test_the_inbox_filters_possible_duplicates_until_they_are_decided(staff_client, pair):
    first, second, stranger = pair

    listed = text(staff_client.get("/console/applications/?duplicates=1"))

    assert first.receipt_number in listed
    assert second.receipt_number in listed
    assert stranger.receipt_number not in listed
    assert 'name="duplicates" value="1" checked' in listed

    staff_client.post(
        resolve_url(second),
        {"other": str(first.pk), "verdict": "not_duplicate", "reason": "双子の別人です。"},
    )

    after = text(staff_client.get("/console/applications/?duplicates=1"))
    assert first.receipt_number not in after
    assert second.receipt_number not in after


def test_a_withdrawn_candidate_no_longer_flags_but_stays_on_the_panel(staff_client, resident, pair):
    from madoguchi.applications.review import application_withdraw

    first, second, _ = pair
    application_withdraw(applicant=resident, application=first, now=now())

    listed = text(staff_client.get("/console/applications/?duplicates=1"))
    page = text(staff_client.get(page_url(second)))

    assert second.receipt_number not in listed
    assert first.receipt_number in page
    assert "取下げ（受付枠は解放済み）" in page


def test_a_decision_is_recorded_audited_and_can_be_recorded_again(staff_client, staff_member, pair):
    first, second, _ = pair

    response = staff_client.post(
        resolve_url(second),
        {"other": str(first.pk), "verdict": "duplicate", "reason": "郵送分と同じ申請です。"},
        follow=True,
    )

    assert "重複の可能性についての判断を記録しました。" in text(response)
    decision = DuplicateResolution.objects.get()
    assert (decision.first_id, decision.second_id) == (first.pk, second.pk)
    assert decision.verdict == "duplicate"
    assert decision.reason == "郵送分と同じ申請です。"
    assert decision.decided_by == staff_member.user
    page = text(staff_client.get(page_url(first)))
    assert "重複（どちらか一方を取下げ・却下などで整理する）（審査 一郎" in page
    assert "理由: 郵送分と同じ申請です。" in page

    staff_client.post(
        resolve_url(first),
        {"other": str(second.pk), "verdict": "not_duplicate", "reason": "確認の結果、別人でした。"},
    )

    decision = DuplicateResolution.objects.get()
    assert decision.verdict == "not_duplicate"
    events = list(AuditEvent.objects.filter(action="application.duplicate_resolved").order_by("pk"))
    assert [e.detail["verdict"] for e in events] == ["duplicate", "not_duplicate"]
    assert events[1].detail["before"] == "duplicate"
    assert all("山田" not in str(e.detail) for e in events)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"verdict": "duplicate", "reason": "理由"}, "比べる申請の指定が正しくありません。"),
        ({"other": "abc", "verdict": "duplicate", "reason": "理由"}, "比べる申請の指定"),
        ({"other": "１", "verdict": "duplicate", "reason": "理由"}, "比べる申請の指定"),
        ({"other": "-1", "verdict": "duplicate", "reason": "理由"}, "比べる申請の指定"),
        ({"other": "9" * 40, "verdict": "duplicate", "reason": "理由"}, "比べる申請の指定"),
        ({"other": "FIRST", "reason": "理由"}, "判断（重複ではない・重複）を選んでください。"),
        ({"other": "FIRST", "verdict": "maybe", "reason": "理由"}, "判断（重複ではない"),
        ({"other": "FIRST", "verdict": "duplicate\x00", "reason": "理由"}, "判断（重複ではない"),
        ({"other": "FIRST", "verdict": "duplicate"}, "判断の理由を入力してください。"),
        (
            {"other": "FIRST", "verdict": "duplicate", "reason": "\u200b\u3000 \u2060"},
            "判断の理由を入力してください。",
        ),
        (
            {"other": "FIRST", "verdict": "duplicate", "reason": "あ" * 2001},
            "理由は2000文字以内で入力してください（現在2001文字）。",
        ),
        (
            {"other": "STRANGER", "verdict": "duplicate", "reason": "理由"},
            "重複の可能性がある申請ではありません",
        ),
        ({"other": "SELF", "verdict": "duplicate", "reason": "理由"}, "比べる申請の指定"),
    ],
)
def test_hostile_resolution_input_is_refused_in_japanese_and_changes_nothing(
    staff_client, pair, data, message
):
    first, second, stranger = pair
    names = {"FIRST": first.pk, "STRANGER": stranger.pk, "SELF": second.pk}
    data = {k: str(names.get(v, v)) if k == "other" else v for k, v in data.items()}

    response = staff_client.post(resolve_url(second), data)

    assert response.status_code == 400
    page = re.sub(r"\s+", " ", text(response))
    assert message in page
    assert 'href="#duplicates-section"' in page
    assert not DuplicateResolution.objects.exists()
    assert not AuditEvent.objects.filter(action="application.duplicate_resolved").exists()


def test_a_viewer_cannot_record_a_decision(client, organisation, pair):
    from madoguchi.identity.constants import StaffRole
    from madoguchi.testing import staff_create

    viewer = staff_create(organisation, email="viewer@yokohama.test", role=StaffRole.VIEWER)
    viewer_client = console_login(client, viewer.user)
    first, second, _ = pair

    page = text(viewer_client.get(page_url(second)))
    response = viewer_client.post(
        resolve_url(second), {"other": str(first.pk), "verdict": "duplicate", "reason": "理由"}
    )

    assert "重複の可能性" in page
    assert "判断を記録する" not in page
    assert response.status_code == 403
    assert not DuplicateResolution.objects.exists()


# --- Isolation ----------------------------------------------------------------------------


def test_another_organisation_never_sees_or_resolves(client, other_staff, pair):
    first, second, _ = pair
    kamakura = console_login(client, other_staff.user)

    assert kamakura.get(page_url(second)).status_code == 404
    response = kamakura.post(
        resolve_url(second), {"other": str(first.pk), "verdict": "duplicate", "reason": "理由"}
    )
    listed = text(kamakura.get("/console/applications/?duplicates=1"))

    assert response.status_code == 404
    assert second.receipt_number not in listed
    assert first.receipt_number not in listed
    assert not DuplicateResolution.objects.exists()


def test_the_same_person_at_another_organisation_is_not_a_candidate(
    staff_client, other_organisation, resident, pair
):
    _, second, _ = pair
    kamakura = procedure_with_rule(other_organisation, Uniqueness.NONE)
    elsewhere = submit(kamakura, resident, rule_answers()).application

    page = text(staff_client.get(page_url(second)))
    refused = staff_client.post(
        resolve_url(second), {"other": str(elsewhere.pk), "verdict": "duplicate", "reason": "理由"}
    )

    assert elsewhere.receipt_number not in page
    assert refused.status_code == 400
    assert "重複の可能性がある申請ではありません" in text(refused)
    assert not DuplicateResolution.objects.exists()


# --- The rule in the procedure settings ------------------------------------------------------


def test_an_admin_sets_the_rule_in_the_procedure_settings(admin_client, admin_staff, organisation):
    procedure = procedure_with_rule(organisation, Uniqueness.NONE)
    url = f"/console/procedures/{procedure.pk}/"

    page = text(admin_client.get(url))
    response = admin_client.post(
        url, {"action": "uniqueness", "uniqueness": "person_fiscal_year"}, follow=True
    )

    assert "重複申請の扱い" in page
    assert 'name="uniqueness" value="person"' in page
    assert "重複申請の扱いを保存しました。" in text(response)
    procedure.refresh_from_db()
    assert procedure.uniqueness == Uniqueness.PERSON_FISCAL_YEAR
    event = AuditEvent.objects.filter(action="procedure.uniqueness_set").latest("pk")
    assert event.actor == admin_staff.user
    assert event.detail == {"before": "none", "after": "person_fiscal_year"}


@pytest.mark.parametrize("value", ["", "twice", "person\x00", "ＰＥＲＳＯＮ", "x" * 5000])
def test_a_hostile_rule_is_refused_and_nothing_changes(admin_client, organisation, value):
    procedure = procedure_with_rule(organisation, Uniqueness.PERSON)
    url = f"/console/procedures/{procedure.pk}/"

    response = admin_client.post(url, {"action": "uniqueness", "uniqueness": value}, follow=True)

    assert response.status_code == 200
    assert "重複申請の扱いを一覧から選んでください。" in text(response)
    procedure.refresh_from_db()
    assert procedure.uniqueness == Uniqueness.PERSON


def test_a_reviewer_or_another_organisations_admin_cannot_set_the_rule(
    staff_client, other_admin, organisation
):
    procedure = procedure_with_rule(organisation, Uniqueness.PERSON)
    url = f"/console/procedures/{procedure.pk}/"
    kamakura = console_login(Client(), other_admin.user)

    assert staff_client.post(url, {"action": "uniqueness", "uniqueness": "none"}).status_code == 403
    assert kamakura.post(url, {"action": "uniqueness", "uniqueness": "none"}).status_code == 404
    assert Procedure.objects.get(pk=procedure.pk).uniqueness == Uniqueness.PERSON


def test_the_national_templates_bring_their_rules(organisation):
    from madoguchi.catalog.selectors import template_version_get
    from madoguchi.catalog.services import procedure_adopt

    rules = {
        slug: procedure_adopt(
            organisation=organisation, template_version=template_version_get(slug=slug), now=now()
        ).uniqueness
        for slug in ("jidou-teate-nintei", "jidou-teate-genkyo", "kaigo-nintei", "juminhyo")
    }

    assert rules == {
        "jidou-teate-nintei": Uniqueness.PERSON,
        "jidou-teate-genkyo": Uniqueness.PERSON_FISCAL_YEAR,
        "kaigo-nintei": Uniqueness.PERSON,
        "juminhyo": Uniqueness.NONE,
    }
