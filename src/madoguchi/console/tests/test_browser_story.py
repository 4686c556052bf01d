"""Issue 11's "done when", in a real Chromium with axe-core (AA) on every page visited: one whole
case from the first click to the decision.

A resident of 横浜市 applies for 犬の登録 from a phone-sized window with two attachments (a
photo and a PDF); the reviewer, at a desktop width, previews both files beside the answers and
asks for a correction of the telephone number; the resident finds the correction form filled in
with what was sent, changes that one answer and sends it again; the reviewer compares 第1版 and
第2版 (the changed row marked) and proposes approval; a second staff member with the sign-off
role signs it off after its confirmation page; the resident gets a mail whose link leads to the
decision on my page. Every status on every page is a Japanese word, never a code. A second,
shorter test walks the resident's side of the same story in English.

Every step a person takes is taken in the browser (links, labels, buttons); what is only set-up
(staff accounts, the procedure's sign-off step, in the English test the staff's side) goes
through the real services. Mails are read from the outbox the real sender works from.
"""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from reportlab.pdfgen import canvas

from madoguchi.applications.constants import ApplicationStatus as S
from madoguchi.applications.models import Application, Attachment, IssuedDocument
from madoguchi.applications.review import application_decide
from madoguchi.applications.workflow import correction_request
from madoguchi.catalog.services import procedure_set_signoff_steps
from madoguchi.core.time import now
from madoguchi.identity.constants import StaffRole
from madoguchi.identity.services import staff_set_signoff
from madoguchi.notifications.models import OutboxMessage
from madoguchi.tenants.models import Organisation
from madoguchi.testing import (
    DOG,
    DOG_CONSENT,
    DOG_OWNER,
    PASSWORD,
    axe_violations,
    dog_details,
    png_upload,
    procedure_publish,
    resident_create,
    staff_create,
)
from madoguchi.testing import (
    browser_fill as fill,
)
from madoguchi.testing import (
    console_browser_login as staff_log_in,
)

pytestmark = pytest.mark.browser

EMAIL = "hanako.story@example.jp"
# A status code as stored (「in_review」「correction_requested」…) never reaches a person: on a
# Japanese page no code may appear at all; in English, "accepted" may be a word of a sentence,
# so there only the codes with an underscore are refused (the statuses are checked as words).
CODES_JA = re.compile(r"\b(" + "|".join(S.values) + r")\b")
CODES_EN = re.compile(r"\b(" + "|".join(v for v in S.values if "_" in v) + r")\b")


class Pages:
    """Checks each page as it is visited: one h1, no status code in the text, and axe-core;
    the violations are collected per page so one run shows every problem."""

    def __init__(self, *, codes: re.Pattern[str], lang: str) -> None:
        self.codes = codes
        self.lang = lang
        self.seen: list[str] = []
        self.violations: dict[str, list[str]] = {}

    def check(self, page: Any, name: str) -> None:
        page.wait_for_load_state("load")
        assert page.locator("h1").count() == 1, f"{name}: one h1 ({page.url})"
        assert page.locator("html").get_attribute("lang") == self.lang, name
        text = page.locator("body").inner_text()
        found = self.codes.search(text)
        assert found is None, f"{name}: the status code {found.group(0)!r} is shown ({page.url})"
        self.seen.append(name)
        violations = axe_violations(page)
        if violations:
            self.violations[f"{name} {page.url}"] = violations


def pdf_upload(name: str) -> dict[str, Any]:
    buffer = io.BytesIO()
    document = canvas.Canvas(buffer)
    document.drawString(72, 720, "Rabies vaccination certificate")
    document.save()
    return {"name": name, "mimeType": "application/pdf", "buffer": buffer.getvalue()}


def mail_link(to: str, subject_has: str) -> str:
    """The path of the link in the newest mail to ``to`` whose subject has ``subject_has``."""
    bodies = [
        row.payload["body"]
        for row in OutboxMessage.objects.order_by("id")
        if row.payload.get("to") == to and subject_has in row.payload.get("subject", "")
    ]
    assert bodies, f"no mail to {to} about {subject_has}"
    match = re.search(r"https?://[^/\s]+(/\S+)", bodies[-1])
    assert match, bodies[-1]
    return match.group(1)


def settle(page: Any) -> None:
    """Wait until htmx has no request in flight."""
    page.wait_for_function("!document.querySelector('.htmx-request')")


def press(page: Any, button: str) -> None:
    """Press a step's button and fail at once with the error summary if the step refused."""
    page.get_by_role("button", name=button, exact=True).click()
    page.wait_for_load_state("load")
    summary = page.locator(".error-summary")
    if summary.count():
        raise AssertionError(summary.inner_text())


def resident_applies(page: Any, pages: Pages, inu: Any, *, english: bool) -> Application:
    """The resident logs in from the procedure page and applies with a photo and a PDF."""
    t = (lambda en, ja: en) if english else (lambda en, ja: ja)
    page.goto(f"/o/141003/procedures/{inu.pk}/")
    if english:
        page.get_by_role("button", name="English").click()
        page.wait_for_load_state("load")
    pages.check(page, "procedure")
    page.get_by_role("link", name=t("Apply online", "オンラインで申請する")).click()
    pages.check(page, "start")
    page.get_by_role("link", name=t("Log in and apply", "ログインして申請する")).click()
    page.wait_for_url("**/account/login/**")
    pages.check(page, "login")
    page.get_by_label(t("E-mail address", "メールアドレス")).fill(EMAIL)
    page.get_by_label(t("Password", "パスワード")).fill(PASSWORD)
    page.get_by_role("button", name=t("Log in", "ログイン"), exact=True).click()
    page.wait_for_url(f"**/o/141003/procedures/{inu.pk}/apply/**")
    details = dog_details()
    details["vaccination_certificate"] = [
        png_upload("注射済証.png"),
        pdf_upload("注射済証（裏面）.pdf"),
    ]
    for number, answers in enumerate((DOG_OWNER, DOG, details, DOG_CONSENT), start=1):
        pages.check(page, f"step {number}")
        files = {k: v for k, v in answers.items() if k == "vaccination_certificate"}
        fill(page, {k: v for k, v in answers.items() if k not in files})
        # The live form re-renders the questions an answer shows: attach once it has settled,
        # as a person does after seeing the question appear.
        settle(page)
        fill(page, files)
        press(page, t("Next", "次へ"))
    page.wait_for_url("**/apply/confirm/")
    pages.check(page, "check page")
    confirm = page.locator("main").inner_text()
    assert "注射済証.png" in confirm
    assert "注射済証（裏面）.pdf" in confirm
    page.get_by_role("button", name=t("Apply with these answers", "この内容で申請する")).click()
    page.wait_for_url("**/applications/*/done/")
    pages.check(page, "receipt")
    application = Application.objects.get()
    assert sorted(
        Attachment.objects.filter(application=application).values_list("kind", flat=True)
    ) == ["pdf", "png"]
    return application


def resident_corrects(page: Any, pages: Pages, application: Application, *, english: bool) -> None:
    """From my page: the correction form holds what was sent; only the phone number changes."""
    t = (lambda en, ja: en) if english else (lambda en, ja: ja)
    page.goto("/mypage/")
    pages.check(page, "my page with a correction request")
    page.get_by_role("link", name=application.receipt_number).click()
    page.wait_for_url(f"**/mypage/{application.receipt_number}/")
    pages.check(page, "detail with a correction request")
    assert "電話番号がつながりません" in page.locator("main").inner_text()
    page.get_by_role("link", name=t("Correct it", "補正する")).click()
    page.wait_for_url("**/correct/")
    pages.check(page, "correction form")
    assert t("The form holds the answers you sent", "申請したときの内容が入っています") in (
        page.locator("main").inner_text()
    )
    phone = page.locator('input[name="owner_phone"]')
    # Filled in with the submitted answer (stored without hyphens, shown as typed or with them).
    assert re.sub(r"\D", "", phone.input_value()) == "0456712121"
    phone.fill("090-1111-2222")
    page.get_by_role("button", name=t("Send the correction", "補正した内容を送信する")).click()
    page.wait_for_url(f"**/mypage/{application.receipt_number}/")
    pages.check(page, "detail after the correction")
    assert t("Your correction has been sent", "補正した内容を送信しました") in (
        page.locator("body").inner_text()
    )
    application.refresh_from_db()
    assert application.status == S.RESUBMITTED
    assert application.revision == 2
    assert application.answers["owner_phone"] == "09011112222"
    # The attachments were not asked for: both are still there, unchanged.
    names = sorted(f["name"] for f in application.answers["vaccination_certificate"])
    assert names == ["注射済証.png", "注射済証（裏面）.pdf"]


def resident_reads_the_decision(
    page: Any, pages: Pages, application: Application, *, subject: str, approved: str
) -> None:
    """The mail's link leads to my page, where the decision and its notice are."""
    page.goto(mail_link(EMAIL, subject))
    page.wait_for_url(f"**/mypage/{application.receipt_number}/")
    pages.check(page, "decision on my page")
    main = page.locator("main").inner_text()
    assert approved in main, main
    assert IssuedDocument.objects.filter(application=application).count() == 1
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"my page is {width}px wide on a 375px screen"


def test_one_case_from_the_first_click_to_the_decision(page, browser, live_server):
    yokohama = Organisation.objects.get(lg_code="141003")
    inu = procedure_publish(yokohama, "inu-toroku")
    admin = staff_create(yokohama, email="admin@yokohama.test", role=StaffRole.ADMIN)
    procedure_set_signoff_steps(
        organisation=yokohama, procedure=inu, steps=1, actor=admin.user, now=now()
    )
    reviewer = staff_create(
        yokohama, email="reviewer@yokohama.test", role=StaffRole.REVIEWER, display_name="審査 一郎"
    )
    chief = staff_create(
        yokohama, email="chief@yokohama.test", role=StaffRole.REVIEWER, display_name="決裁 係長"
    )
    staff_set_signoff(
        organisation=yokohama, staff_id=chief.pk, may_sign_off=True, actor=admin, now=now()
    )
    resident_create(EMAIL, verified=True)
    pages = Pages(codes=CODES_JA, lang="ja")

    # The resident, on a phone.
    page.set_viewport_size({"width": 375, "height": 740})
    application = resident_applies(page, pages, inu, english=False)
    assert application.status == S.SUBMITTED

    # The reviewer, at a desktop, in a browser of their own.
    context = browser.new_context(
        locale="ja-JP",
        bypass_csp=True,
        base_url=live_server.url,
        viewport={"width": 1280, "height": 900},
    )
    desk = context.new_page()
    staff_log_in(desk, reviewer)
    pages.check(desk, "console home")
    desk.goto(f"/console/applications/{application.pk}/")
    pages.check(desk, "application")
    files = desk.get_by_role("complementary", name="添付ファイル")
    files.get_by_role("link", name="表示 （注射済証.png）").click()
    desk.get_by_role("img", name="添付ファイル「注射済証.png」").wait_for()
    desk.wait_for_function(
        "() => { const i = document.querySelector('.file-preview__image');"
        " return i && i.complete && i.naturalWidth === 40; }"
    )
    pages.check(desk, "image preview")
    with desk.expect_response(lambda r: r.url.endswith("/view/")) as shown:
        files.get_by_role("link", name="表示 （注射済証（裏面）.pdf）").click()
    assert shown.value.status == 200
    assert shown.value.headers["content-type"] == "application/pdf"
    desk.locator('iframe[title="添付ファイル「注射済証（裏面）.pdf」の表示"]').wait_for()
    pages.check(desk, "PDF preview")

    desk.get_by_role("button", name="「受付」にする").click()
    # The status in the facts was 「到達」: wait for the new page to say 「受付」.
    desk.locator("dl.facts").first.locator("strong", has_text=re.compile("^受付$")).wait_for()
    pages.check(desk, "accepted")
    assert Application.objects.get(pk=application.pk).status == S.ACCEPTED
    correction = desk.locator("#correction-section")
    correction.get_by_label("電話番号").check()
    correction.get_by_label("申請者へのお願い（4000文字以内）").fill(
        "電話番号がつながりません。日中に連絡のつく番号を入力してください。"
    )
    correction.get_by_role("button", name="補正を依頼する").click()
    desk.locator("#correction-section").wait_for(state="detached")
    pages.check(desk, "correction requested")
    assert Application.objects.get(pk=application.pk).status == S.CORRECTION_REQUESTED

    # The resident, back on the phone.
    resident_corrects(page, pages, application, english=False)

    # The reviewer compares the versions and proposes approval.
    desk.goto(f"/console/applications/{application.pk}/")
    pages.check(desk, "resubmitted application")
    versions = desk.locator("#versions")
    versions_text = versions.inner_text()
    assert "第1版" in versions_text
    assert "第2版" in versions_text
    assert "変わった項目は1件です" in versions_text
    changed = versions.locator("tr.versions__changed")
    assert changed.count() == 1
    row = changed.inner_text()
    assert "変更" in row
    assert "電話番号" in row
    assert "2121" in changed.locator("del").inner_text()
    assert "2222" in changed.locator("ins").inner_text()
    desk.get_by_label("理由（却下のときは必須、2000文字以内）").fill("要件を満たしています。")
    desk.get_by_role("button", name="承認で起案する（確認へ）").click()
    desk.get_by_role("heading", name="この内容で起案しますか").wait_for()
    pages.check(desk, "proposal confirmation")
    desk.get_by_role("button", name="承認で起案して決裁を依頼する").click()
    desk.get_by_text("承認で起案しました").wait_for()
    pages.check(desk, "proposed")
    assert Application.objects.get(pk=application.pk).status == S.RESUBMITTED

    # The chief signs it off, found from the home count.
    staff_log_in(desk, chief)
    pages.check(desk, "chief's console home")
    desk.get_by_role("link", name="自分の決裁待ち").click()
    pages.check(desk, "waiting for my sign-off")
    desk.get_by_role("link", name=application.receipt_number).click()
    pages.check(desk, "application to sign off")
    desk.get_by_label("決裁のコメント（任意、2000文字以内）").fill("確認しました。")
    desk.get_by_role("button", name="第1段階を決裁する（確認へ）").click()
    desk.get_by_role("heading", name="決裁して決定を確定しますか").wait_for()
    pages.check(desk, "sign-off confirmation")
    desk.get_by_role("button", name="決裁して承認を確定する").click()
    desk.get_by_text("決裁しました。").wait_for()
    pages.check(desk, "signed off")
    assert Application.objects.get(pk=application.pk).status == S.APPROVED
    context.close()

    # The resident reads the decision from the mail's link.
    resident_reads_the_decision(page, pages, application, subject="決定", approved="承認")

    assert len(pages.seen) >= 25, pages.seen
    assert pages.violations == {}


def test_the_residents_side_of_the_story_in_english(page):
    yokohama = Organisation.objects.get(lg_code="141003")
    inu = procedure_publish(yokohama, "inu-toroku")
    reviewer = staff_create(yokohama, email="reviewer@yokohama.test", role=StaffRole.REVIEWER)
    resident_create(EMAIL, verified=True)
    pages = Pages(codes=CODES_EN, lang="en")
    page.set_viewport_size({"width": 375, "height": 740})

    application = resident_applies(page, pages, inu, english=True)
    assert application.language == "en"
    correction_request(
        organisation=yokohama,
        application=application,
        staff_user=reviewer.user,
        body="電話番号がつながりません。日中に連絡のつく番号を入力してください。",
        fields=["owner_phone"],
        now=now(),
    )
    resident_corrects(page, pages, application, english=True)
    application.refresh_from_db()
    application_decide(
        organisation=yokohama,
        application=application,
        staff=reviewer,
        outcome="approve",
        reason="要件を満たしています。",
        expected_status=S.RESUBMITTED,
        now=now(),
    )
    resident_reads_the_decision(page, pages, application, subject="decision", approved="Approved")
    assert pages.violations == {}
