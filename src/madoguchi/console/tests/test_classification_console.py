"""手続の分類: admins choose the national category each procedure is counted under;
everyone on the staff sees it; hostile posts change nothing and never fail with a 500."""

from __future__ import annotations

from django.test import Client
from django.urls import reverse

from madoguchi.audit.models import AuditEvent
from madoguchi.identity.constants import StaffRole
from madoguchi.stats.models import ProcedureClassification
from madoguchi.testing import console_login, procedure_publish, staff_create

LIST = reverse("console:classification")


def edit(procedure_id: int) -> str:
    return reverse("console:classification_edit", args=[procedure_id])


def test_the_list_shows_defaults_and_own_choices(admin_client, organisation, admin_staff):
    risai = procedure_publish(organisation, "risai-shomei")
    juminhyo = procedure_publish(organisation, "juminhyo")
    admin_client.post(edit(juminhyo.pk), {"category": "none"})

    page = admin_client.get(LIST).content.decode()

    assert "罹災証明書の発行申請" in page
    assert "disaster-certificate" in page
    assert "ひな形の既定" in page
    assert "団体が選択" in page
    assert "集計の対象外" in page
    assert "2件のうち集計の対象 1件" in page
    assert "<code>hisaisha-shien</code>、<code>priority-59</code>" in page
    assert edit(risai.pk) in page
    assert reverse("portal:statistics_categories") in page


def test_an_admin_chooses_a_category_then_not_counted_then_the_default(admin_client, organisation):
    procedure = procedure_publish(organisation, "risai-shomei")

    form = admin_client.get(edit(procedure.pk))
    page = form.content.decode()
    assert form.status_code == 200
    assert '<optgroup label="地方公共団体が優先的にオンライン化を推進すべき手続（59手続）' in page
    assert "地方税申告手続（eLTAX）（eltax-filing）" in page
    # One procedure, one option, however many lists hold it (the lists in force first).
    assert page.count('value="eltax-filing"') == 1
    assert "国のひな形の既定に戻す（罹災証明書の発行申請）" in page
    assert '<option value="default" selected>' in page

    response = admin_client.post(edit(procedure.pk), {"category": "eltax-filing"})
    assert response.status_code == 302
    assert response["Location"] == LIST
    assert ProcedureClassification.objects.get(procedure=procedure).category_code == "eltax-filing"
    assert (
        '<option value="eltax-filing" selected>'
        in admin_client.get(edit(procedure.pk)).content.decode()
    )

    admin_client.post(edit(procedure.pk), {"category": "none"})
    assert ProcedureClassification.objects.get(procedure=procedure).category_code == ""
    assert '<option value="none" selected>' in admin_client.get(edit(procedure.pk)).content.decode()

    admin_client.post(edit(procedure.pk), {"category": "default"})
    assert not ProcedureClassification.objects.filter(procedure=procedure).exists()
    assert AuditEvent.objects.filter(action="procedure.classified").count() == 3


def test_hostile_posts_are_refused_in_japanese_and_change_nothing(admin_client, organisation):
    procedure = procedure_publish(organisation, "risai-shomei")
    admin_client.post(edit(procedure.pk), {"category": "library-reservation"})
    events = AuditEvent.objects.count()

    for data in (
        {"category": "no-such-code"},
        {"category": "図書館の図書貸出予約等"},
        {"category": "<script>alert(1)</script>"},
        {"category": "x" * 10_000},
        {"category": "   "},
        {},
        {"category": ["eltax-filing", "none"]},
    ):
        response = admin_client.post(edit(procedure.pk), data)
        page = response.content.decode()
        assert response.status_code == 400, data
        assert "保存できませんでした" in page
        assert 'role="alert"' in page
        assert "<script>alert(1)</script>" not in page
    stored = ProcedureClassification.objects.get(procedure=procedure)
    assert stored.category_code == "library-reservation"
    assert AuditEvent.objects.count() == events


def test_another_organisations_procedure_answers_404(admin_client, other_organisation):
    theirs = procedure_publish(other_organisation, "risai-shomei")

    assert admin_client.get(edit(theirs.pk)).status_code == 404
    assert admin_client.post(edit(theirs.pk), {"category": "none"}).status_code == 404
    assert admin_client.get(edit(999_999)).status_code == 404
    assert "罹災証明書" not in admin_client.get(LIST).content.decode()
    assert not ProcedureClassification.objects.exists()


def test_reviewers_and_viewers_see_the_list_but_cannot_change_it(organisation, staff_client):
    procedure = procedure_publish(organisation, "risai-shomei")
    viewer = staff_create(organisation, email="viewer@yokohama.test", role=StaffRole.VIEWER)
    viewer_client = console_login(Client(), viewer.user)

    for client in (staff_client, viewer_client):
        page = client.get(LIST)
        assert page.status_code == 200
        assert "罹災証明書の発行申請" in page.content.decode()
        assert edit(procedure.pk) not in page.content.decode()
        assert client.get(edit(procedure.pk)).status_code == 403
        assert client.post(edit(procedure.pk), {"category": "none"}).status_code == 403
    assert not ProcedureClassification.objects.exists()


def test_the_procedure_pages_link_to_the_classification(admin_client, staff_client, organisation):
    procedure = procedure_publish(organisation, "risai-shomei")

    assert (
        edit(procedure.pk)
        in admin_client.get(reverse("console:procedure", args=[procedure.pk])).content.decode()
    )
    assert (
        LIST in staff_client.get(reverse("console:procedure", args=[procedure.pk])).content.decode()
    )
    assert LIST in staff_client.get(reverse("console:procedures")).content.decode()


def test_anonymous_visitors_are_sent_to_the_login(client, organisation):
    procedure = procedure_publish(organisation, "risai-shomei")
    assert client.get(LIST).status_code == 302
    assert client.post(edit(procedure.pk), {"category": "none"}).status_code == 302
    assert not ProcedureClassification.objects.exists()
