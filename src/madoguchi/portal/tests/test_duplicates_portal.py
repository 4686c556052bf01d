"""A resident who applies twice online is told, on the confirmation page, about the first."""

from __future__ import annotations

import re
from typing import Any

from django.test import Client

from madoguchi.applications.models import Application
from madoguchi.catalog.constants import Uniqueness
from madoguchi.core.time import now
from madoguchi.testing import procedure_with_rule, rule_answers, submit


def flat(answers: dict[str, Any]) -> dict[str, str]:
    """The answers as the browser posts them (nested names joined with dots)."""
    data: dict[str, str] = {}
    for key, value in answers.items():
        if isinstance(value, dict):
            data.update({f"{key}.{k}": str(v) for k, v in value.items()})
        else:
            data[key] = str(value)
    return data


def send(client: Client, procedure: Any) -> Any:
    base = f"/o/{procedure.organisation.lg_code}/procedures/{procedure.pk}/apply/"
    response = client.post(base, {**flat(rule_answers()), "_step": "main"})
    assert response.status_code == 302, response.content.decode()[:2000]
    page = client.get(base + "confirm/").content.decode()
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page)
    version = re.search(r'name="form_version" value="([^"]+)"', page)
    assert key is not None
    assert version is not None
    return client.post(
        base + "confirm/",
        {"idempotency_key": key.group(1), "form_version": version.group(1)},
        follow=True,
    )


def test_the_second_online_application_is_refused_with_the_first_receipt(
    client, organisation, resident
):
    resident.email_verified_at = now()
    resident.save(update_fields=["email_verified_at"])
    procedure = procedure_with_rule(organisation, Uniqueness.PERSON)
    first = submit(procedure, resident, rule_answers()).application
    client.force_login(resident)

    response = send(client, procedure)

    page = response.content.decode()
    assert response.status_code == 200
    assert "この手続は、同じ方からは1件だけ受け付けています。" in page
    assert f"受付番号 {first.receipt_number} の申請がすでにあります。" in page
    # The resident lands on the first application itself, not back on the confirmation page.
    assert response.redirect_chain[-1][0].endswith(f"/mypage/{first.receipt_number}/")
    assert Application.objects.count() == 1


def test_the_start_page_says_before_the_first_question_that_this_account_already_applied(
    client, organisation, resident
):
    resident.email_verified_at = now()
    resident.save(update_fields=["email_verified_at"])
    procedure = procedure_with_rule(organisation, Uniqueness.PERSON)
    first = submit(procedure, resident, rule_answers()).application
    client.force_login(resident)
    start = f"/o/{procedure.organisation.lg_code}/procedures/{procedure.pk}/apply/start/"

    page = client.get(start).content.decode()

    assert "この手続は申請済みです" in page
    assert first.receipt_number in page
    assert f"/mypage/{first.receipt_number}/" in page
    # Another family member may still apply: the resident can go on deliberately.
    again = client.get(start + "?again=1")
    assert again.status_code == 302
    assert "申請済み" not in client.get(again["Location"]).content.decode()


def test_a_withdrawn_first_application_is_no_reason_to_warn(client, organisation, resident):
    from madoguchi.applications.review import application_withdraw

    resident.email_verified_at = now()
    resident.save(update_fields=["email_verified_at"])
    procedure = procedure_with_rule(organisation, Uniqueness.PERSON)
    first = submit(procedure, resident, rule_answers()).application
    application_withdraw(application=first, applicant=resident, reason="", now=now())
    client.force_login(resident)
    start = f"/o/{procedure.organisation.lg_code}/procedures/{procedure.pk}/apply/start/"

    assert "この手続は申請済みです" not in client.get(start, follow=True).content.decode()
