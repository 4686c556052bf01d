"""A foreign resident applies in English in a real Chromium, on a phone-sized window, with
axe-core (AA) on every page: the procedure, the way in, the e-mail check of a guest, the form
(whose questions stay Japanese, marked as such), the check page, the receipt, the status page
from the mail's link, and my page of an account holder. Every status reads as a word.
"""

from __future__ import annotations

import io
import re
from datetime import date, timedelta
from typing import Any

import pytest
from django.test import Client
from PIL import Image

from madoguchi.applications.constants import ApplicationStatus
from madoguchi.applications.models import Application
from madoguchi.applications.workflow import application_transition
from madoguchi.core.time import now, to_tokyo
from madoguchi.identity.constants import StaffRole
from madoguchi.identity.services import staff_upsert
from madoguchi.notifications.models import OutboxMessage
from madoguchi.tenants.models import Organisation
from madoguchi.testing import axe_violations, procedure_publish, resident_create
from madoguchi.testing import browser_fill as fill

pytestmark = pytest.mark.browser

GUEST = "visitor@example.jp"
# In English, "accepted" may be a word of a sentence; codes with an underscore never are, and
# the status itself is checked as the capitalised word a person reads.
RAW = re.compile(r"\b(" + "|".join(v for v in ApplicationStatus.values if "_" in v) + r")\b")


class Axe:
    def __init__(self, page: Any) -> None:
        self.page = page
        self.violations: dict[str, list[str]] = {}

    def check(self, name: str) -> None:
        self.page.wait_for_load_state("load")
        assert self.page.locator("html").get_attribute("lang") == "en", name
        assert self.page.locator("h1").count() == 1, name
        body = self.page.locator("main").inner_text()
        assert RAW.search(body) is None, (name, RAW.search(body))
        found = axe_violations(self.page)
        if found:
            self.violations[f"{name} {self.page.url}"] = found


def png() -> dict[str, Any]:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (20, 120, 60)).save(buffer, "PNG")
    return {"name": "certificate.png", "mimeType": "image/png", "buffer": buffer.getvalue()}


def today() -> date:
    return to_tokyo(now()).date()


def press_next(page: Any) -> None:
    page.get_by_role("button", name="Next", exact=True).click()
    page.wait_for_load_state("load")
    summary = page.locator(".error-summary")
    if summary.count():
        raise AssertionError(summary.inner_text())


def mail_path(to: str, pattern: str) -> str:
    bodies = [
        m.payload["body"] for m in OutboxMessage.objects.order_by("id") if m.payload["to"] == to
    ]
    for body in reversed(bodies):
        match = re.search(r"https?://[^/\s]+(" + pattern + r"\S*)", body)
        if match:
            return match.group(1)
    raise AssertionError(f"no link {pattern} in the mail to {to}: {bodies}")


STEPS: list[dict[str, Any]] = [
    {
        "kind": "register",
        "owner_name.family": "Smith",
        "owner_name.given": "Anna",
        "owner_name.family_kana": "スミス",
        "owner_name.given_kana": "アンナ",
        "owner_address.postal_code": "231-0023",
        "owner_address.block": "1-1",
        "owner_phone": "045-671-2121",
    },
    {
        "dog_name": "Pochi",
        "breed": "柴",
        "coat_color": "赤",
        "dog_sex": "female",
        "dog_birth_date": "2024-05-01",
    },
    {
        "acquired_date": (today() - timedelta(days=5)).isoformat(),
        "vaccinated": "yes",
        "vaccination_date": (today() - timedelta(days=10)).isoformat(),
        "injection_tag_request": "yes",
        "tag_delivery": "mail",
        "vaccination_certificate": [png()],
    },
    {"truth": "yes", "owner_duties": "yes"},
]


def test_a_guest_applies_in_english_on_a_phone_and_follows_the_status_link(page):
    yokohama = Organisation.objects.get(lg_code="141003")
    inu = procedure_publish(yokohama, "inu-toroku")
    staff = staff_upsert(
        organisation=yokohama,
        email="reviewer@yokohama.test",
        password="reviewer password 12345",
        role=StaffRole.REVIEWER,
    )
    page.set_viewport_size({"width": 375, "height": 740})
    axe = Axe(page)

    # The header's language switch, as a visitor uses it.
    page.goto(f"/o/141003/procedures/{inu.pk}/")
    page.get_by_role("button", name="English").click()
    page.wait_for_load_state("load")
    axe.check("procedure")
    page.get_by_role("link", name="Apply online").click()
    axe.check("start")
    page.get_by_role("link", name="Confirm your e-mail address and apply").click()
    axe.check("guest e-mail")
    page.get_by_label("E-mail address").fill(GUEST)
    page.get_by_role("button", name="Send the confirmation e-mail").click()
    axe.check("guest mail sent")

    page.goto(mail_path(GUEST, "/o/141003/procedures/"))
    axe.check("guest confirm")
    page.get_by_role("button", name="Start filling in").click()
    page.wait_for_url(f"**/o/141003/procedures/{inu.pk}/apply/**")
    for number, answers in enumerate(STEPS, start=1):
        axe.check(f"step {number}")
        assert page.locator("div[lang=ja] label, div[lang=ja] legend").count() > 0
        fill(page, answers)
        press_next(page)
    page.wait_for_url("**/confirm/")
    axe.check("check page")
    page.get_by_role("button", name="Apply with these answers").click()
    page.wait_for_url("**/done/")
    axe.check("receipt")
    assert page.get_by_text("Your application has been received").count() == 1
    application = Application.objects.get()
    assert application.contact_email == GUEST

    # Staff accept it; the mail's signed link shows the status in English, in words.
    application_transition(
        organisation=yokohama,
        application=application,
        to_status=ApplicationStatus.ACCEPTED,
        staff_user=staff.user,
        now=now(),
    )
    page.goto(mail_path(GUEST, "/status/"))
    axe.check("guest status")
    assert "Accepted" in page.locator("main").inner_text()

    # An account holder's my page, in English too.
    hanako = resident_create("hanako@example.jp", verified=True)
    Application.objects.filter(pk=application.pk).update(applicant=hanako, contact_email="")
    client = Client()
    client.force_login(hanako)
    url = re.sub(r"^(https?://[^/]+).*$", r"\1/", page.url)  # cookies for the whole site
    page.context.clear_cookies()  # the guest's session ends; the language choice stays
    page.context.add_cookies(
        [
            {"name": "sessionid", "value": client.cookies["sessionid"].value, "url": url},
            {"name": "django_language", "value": "en", "url": url},
        ]
    )
    page.goto("/mypage/")
    assert page.url.endswith("/mypage/"), page.url
    assert application.receipt_number in page.content(), page.locator("main").inner_text()
    axe.check("my page")
    page.get_by_role("link", name=application.receipt_number).click()
    axe.check("my application")
    assert "Accepted" in page.locator("main").inner_text()

    assert axe.violations == {}
