"""A resident applies in a real Chromium: the whole story, a keyboard-only application,
a double submission and the life-event checklist, with axe-core (AA) on every page seen.

The pages are driven as a person drives them (links, labels, buttons); what only the
organisation's staff or the mail would do (a correction request, the verification link) is
done directly: the staff console for it is tested elsewhere, and the mail is read from the
outbox that the real sender works from.
"""

from __future__ import annotations

import io
import re
from datetime import date, timedelta
from typing import Any

import jpholiday
import pytest
from django.test import Client
from PIL import Image

from madoguchi.applications.constants import ApplicationStatus as S
from madoguchi.applications.models import Application, Attachment, Draft
from madoguchi.applications.workflow import correction_request
from madoguchi.catalog.models import Procedure
from madoguchi.core.time import now, to_tokyo
from madoguchi.identity.constants import StaffRole
from madoguchi.identity.models import User
from madoguchi.identity.services import staff_upsert
from madoguchi.notifications.models import OutboxMessage
from madoguchi.tenants.models import Organisation
from madoguchi.testing import (
    DOG,
    DOG_CONSENT,
    DOG_OWNER,
    axe_violations,
    dog_details,
    png_upload,
    procedure_publish,
)
from madoguchi.testing import (
    browser_fill as fill,
)

pytestmark = pytest.mark.browser

EMAIL = "hanako.e2e@example.jp"
PASSWORD = "correct horse battery 42"


# --- Helpers ---------------------------------------------------------------------------------


class Axe:
    """axe-core on each page as it is visited; the violations are collected per page so one
    run shows every problem, and the test asserts at its end that there are none."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.seen: list[str] = []
        self.violations: dict[str, list[str]] = {}

    def check(self, name: str) -> None:
        self.page.wait_for_load_state("load")
        assert self.page.locator("h1").count() == 1, f"{name}: one h1 ({self.page.url})"
        self.seen.append(name)
        found = axe_violations(self.page)
        if found:
            self.violations[f"{name} {self.page.url}"] = found


def png_bytes(colour: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), colour).save(buffer, "PNG")
    return buffer.getvalue()


def today() -> date:
    return to_tokyo(now()).date()


def collection_day() -> date:
    """A weekday (not a holiday) between 3 and 60 days ahead, as 粗大ごみ asks."""
    day = today() + timedelta(days=5)
    while day.weekday() >= 5 or jpholiday.is_holiday(day):
        day += timedelta(days=1)
    return day


def press_next(page: Any, *, expect_errors: bool = False) -> None:
    page.get_by_role("button", name="次へ", exact=True).click()
    page.wait_for_load_state("load")
    summary = page.locator(".error-summary")
    if not expect_errors and summary.count():
        raise AssertionError(summary.inner_text())


def outbox_mail(to: str, subject_has: str) -> dict[str, Any]:
    rows: list[dict[str, Any]] = [
        row.payload
        for row in OutboxMessage.objects.order_by("id")
        if row.payload.get("to") == to and subject_has in row.payload.get("subject", "")
    ]
    assert rows, f"no mail to {to} about {subject_has}"
    return rows[-1]


def path_in(body: str) -> str:
    match = re.search(r"https?://[^/\s]+(/\S+)", body)
    assert match, body
    return match.group(1)


def published(*slugs: str) -> list[Procedure]:
    yokohama = Organisation.objects.get(lg_code="141003")
    return [procedure_publish(yokohama, slug) for slug in slugs]


def verified_resident(email: str) -> User:
    user = User.objects.create_user(email, PASSWORD)
    user.email_verified_at = now()
    user.save(update_fields=["email_verified_at"])
    return user


def log_in_browser(page: Any, user: User) -> None:
    """Give the browser the session of a logged-in resident (for tests not about logging in)."""
    client = Client()
    client.force_login(user)
    cookie = client.cookies["sessionid"]
    page.context.add_cookies([{"name": "sessionid", "value": cookie.value, "url": page.url}])


# --- 1. The whole story ------------------------------------------------------------------------


def test_a_new_resident_finds_applies_gets_the_receipt_corrects_and_withdraws(page):
    (inu,) = published("inu-toroku")
    staff = staff_upsert(
        organisation=inu.organisation,
        email="reviewer@yokohama.test",
        password="reviewer password 12345",
        role=StaffRole.REVIEWER,
    )
    axe = Axe(page)

    # Find the procedure by life event: 引越し → 横浜市 → 犬の登録.
    page.goto("/")
    axe.check("top")
    page.get_by_role("link", name="引越し").click()
    page.wait_for_url("**/life-events/moving/")
    axe.check("life event")
    page.get_by_label("お住まいの市区町村の団体コード").fill("141003")
    page.get_by_role("button", name="表示").click()
    page.wait_for_url("**/life-events/moving/?o=141003")
    axe.check("life event of 横浜市")
    page.get_by_role("link", name=inu.name).click()
    page.wait_for_url(f"**/o/141003/procedures/{inu.pk}/")
    axe.check("procedure")
    page.get_by_role("link", name="オンラインで申請する").click()
    axe.check("start")
    start_url = page.url
    assert start_url.endswith("/apply/start/")

    # Sign up; a mistyped confirmation is caught first.
    page.get_by_role("link", name="アカウントを作る").click()
    page.wait_for_url("**/account/signup/?next=**")
    axe.check("sign-up")
    page.get_by_label("メールアドレス").fill(EMAIL)
    page.get_by_label("パスワード", exact=False).first.fill(PASSWORD)
    page.get_by_label("パスワード（確認のためもう一度）").fill(PASSWORD + "x")
    page.get_by_role("button", name="登録して確認メールを受け取る").click()
    assert page.locator(".error-summary").is_visible()
    axe.check("sign-up with an error")
    page.get_by_label("パスワード", exact=False).first.fill(PASSWORD)
    page.get_by_label("パスワード（確認のためもう一度）").fill(PASSWORD)
    page.get_by_role("button", name="登録して確認メールを受け取る").click()
    page.wait_for_url("**/account/signup/sent/")
    axe.check("sign-up sent")

    # Verify from the link in the mail, then log in and come back to the procedure.
    page.goto(path_in(outbox_mail(EMAIL, "メールアドレスの確認")["body"]))
    axe.check("verify")
    page.get_by_role("button", name="メールアドレスを確認する").click()
    # The way back rode along in the mail: the login leads straight back to the procedure.
    page.wait_for_url("**/account/login/?next=**")
    assert "apply%2Fstart%2F" in page.url or "apply/start/" in page.url
    axe.check("login")
    page.get_by_label("メールアドレス").fill(EMAIL)
    page.get_by_label("パスワード").fill(PASSWORD)
    page.get_by_role("button", name="ログイン", exact=True).click()
    page.wait_for_load_state("load")
    if page.get_by_role("heading", name="登録している情報を使いますか").count():
        axe.check("pre-fill")
        page.get_by_role("button", name="使わずに入力をはじめる").click()
    page.wait_for_url(f"**/o/141003/procedures/{inu.pk}/apply/**")

    # Step 1, first sent empty: the error summary lists what is missing.
    axe.check("step 1")
    press_next(page, expect_errors=True)
    summary = page.locator(".error-summary")
    assert summary.is_visible()
    assert page.title().startswith("入力内容の誤り")
    assert summary.evaluate("el => el === document.activeElement")
    axe.check("step 1 with errors")
    # A link of the summary takes the focus to its field, a group of radio buttons too.
    summary.get_by_role("link", name=re.compile("届出の種類")).click()
    assert page.evaluate("document.activeElement.id") == "f-kind"
    summary.get_by_role("link", name=re.compile("電話番号")).click()
    assert page.evaluate("document.activeElement.name") == "owner_phone"
    fill(page, DOG_OWNER)
    press_next(page)
    axe.check("step 2")
    fill(page, DOG)
    press_next(page)
    axe.check("step 3")
    fill(page, dog_details())
    press_next(page)
    assert Attachment.objects.filter(owner__email=EMAIL, kind="png").count() == 1
    axe.check("step 4")
    fill(page, DOG_CONSENT)
    press_next(page)
    page.wait_for_url("**/apply/confirm/")
    axe.check("confirm")
    confirm_text = page.locator("main").inner_text()
    assert "注射済証.png" in confirm_text
    assert "ポチ" in confirm_text

    # Send; the completion page says the receipt number, the PDF starts with %PDF.
    page.get_by_role("button", name="この内容で申請する").click()
    page.wait_for_url("**/applications/*/done/")
    axe.check("completion")
    application = Application.objects.get()
    assert page.locator(".receipt-number").inner_text() == application.receipt_number
    assert "到達日時" in page.locator("main").inner_text()
    with page.expect_download() as info:
        page.get_by_role("link", name="到達通知（PDF）をダウンロード").click()
    download = info.value
    assert download.suggested_filename == f"receipt-{application.receipt_number}.pdf"
    with open(download.path(), "rb") as pdf:
        assert pdf.read(5) == b"%PDF-"
    receipt_mail = outbox_mail(EMAIL, application.receipt_number)
    assert application.receipt_number in receipt_mail["body"]

    # The organisation asks for a correction of the phone number and the certificate.
    correction_request(
        organisation=inu.organisation,
        application=application,
        staff_user=staff.user,
        body="電話番号がつながりません。注射済証の写真も、文字が読めるものに差し替えてください。",
        fields=["owner_phone", "vaccination_certificate"],
        now=now(),
    )
    page.get_by_role("link", name="マイページで申請の状況を見る").click()
    page.wait_for_url(f"**/mypage/{application.receipt_number}/")
    page.get_by_role("link", name="マイページ", exact=True).first.click()
    page.wait_for_url("**/mypage/")
    axe.check("my page")
    assert "対応が必要です" in page.locator("main").inner_text()
    page.get_by_role("link", name=application.receipt_number).click()
    page.wait_for_url(f"**/mypage/{application.receipt_number}/")
    axe.check("detail with a correction request")
    assert "電話番号がつながりません" in page.locator("main").inner_text()
    page.get_by_role("link", name="補正する").click()
    page.wait_for_url("**/correct/")
    axe.check("correction")
    page.get_by_label("電話番号").fill("でんわ")
    page.get_by_role("button", name="補正した内容を送信する").click()
    assert page.locator(".error-summary").is_visible()
    axe.check("correction with an error")
    page.get_by_label("電話番号").fill("090-1111-2222")
    page.get_by_label("注射済証.pngを差し替える（削除する）").check()
    page.get_by_label("狂犬病予防注射済証").set_input_files(
        [png_upload("注射済証（撮り直し）.png", (20, 160, 40))]
    )
    page.get_by_label("担当者への連絡（任意）").fill("撮り直しました。")
    page.get_by_role("button", name="補正した内容を送信する").click()
    page.wait_for_url(f"**/mypage/{application.receipt_number}/")
    axe.check("detail after the correction")
    application.refresh_from_db()
    assert application.status == S.RESUBMITTED
    assert application.revision == 2
    assert application.answers["owner_phone"] == "09011112222"
    assert [f["name"] for f in application.answers["vaccination_certificate"]] == [
        "注射済証（撮り直し）.png"
    ]

    # Withdraw.
    page.get_by_role("link", name="この申請を取り下げる").click()
    page.wait_for_url("**/withdraw/")
    axe.check("withdraw")
    page.get_by_label("取下げの理由（任意）").fill("別の方法で届け出ました。")
    page.get_by_role("button", name="取り下げる").click()
    page.wait_for_url(f"**/mypage/{application.receipt_number}/")
    axe.check("detail after withdrawal")
    application.refresh_from_db()
    assert application.status == S.WITHDRAWN
    assert "別の方法で届け出ました" in page.locator("main").inner_text()

    # The profile page, reached from my page.
    page.goto("/mypage/")
    page.get_by_role("link", name="登録情報の確認・変更").click()
    page.wait_for_url("**/account/profile/")
    axe.check("profile")

    assert Application.objects.count() == 1
    assert len(axe.seen) >= 22, axe.seen
    assert axe.violations == {}


# --- 2. Keyboard only ------------------------------------------------------------------------

FOCUS_VISIBLE = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return false;
  const s = getComputedStyle(el);
  const outline = s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0;
  return outline || (s.boxShadow && s.boxShadow !== 'none');
}"""

ACTIVE = """() => {
  const el = document.activeElement;
  return {tag: el.tagName.toLowerCase(), type: el.type || '', name: el.name || '',
          value: el.value || '', text: (el.innerText || '').trim(), id: el.id || ''};
}"""


class Keyboard:
    """Moves through a page with Tab only, and says where the focus is."""

    def __init__(self, page: Any) -> None:
        self.page = page

    def active(self) -> dict[str, str]:
        result: dict[str, str] = self.page.evaluate(ACTIVE)
        return result

    def tab_until(self, match: Any, *, limit: int = 120, back: bool = False) -> dict[str, str]:
        for _ in range(limit):
            self.page.keyboard.press("Shift+Tab" if back else "Tab")
            here = self.active()
            if match(here):
                return here
        raise AssertionError(f"focus never reached the element (last: {self.active()})")

    def to_name(self, name: str) -> dict[str, str]:
        return self.tab_until(lambda a: a["name"] == name)

    def to_text(self, text: str) -> dict[str, str]:
        return self.tab_until(lambda a: a["text"] == text)

    def focus_is_visible(self) -> bool:
        return bool(self.page.evaluate(FOCUS_VISIBLE))

    def answer(self, values: dict[str, str]) -> None:
        """Fill a step in page order: type into text boxes, move radios with the arrow
        keys, tick boxes with Space."""
        for name, value in values.items():
            here = self.to_name(name)
            if here["type"] == "radio":
                for _ in range(10):
                    if self.active()["value"] == value:
                        break
                    self.page.keyboard.press("ArrowDown")
                self.page.keyboard.press("Space")
                assert self.page.evaluate("document.activeElement.checked")
            elif here["type"] == "checkbox":
                self.page.keyboard.press("Space")
                assert self.page.evaluate("document.activeElement.checked")
            else:
                self.page.keyboard.press("Control+A")
                self.page.keyboard.type(value)

    def next_step(self) -> None:
        self.to_text("次へ")
        assert self.focus_is_visible()
        with self.page.expect_navigation():
            self.page.keyboard.press("Enter")


def test_a_resident_applies_with_the_keyboard_only(page):
    (gomi,) = published("sodai-gomi")
    verified_resident(EMAIL)
    keys = Keyboard(page)
    axe = Axe(page)

    page.goto(f"/o/141003/procedures/{gomi.pk}/")
    keys.to_text("オンラインで申請する")
    assert keys.focus_is_visible()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    keys.to_text("ログインして申請する")
    assert keys.focus_is_visible()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    keys.to_name("username")
    assert keys.focus_is_visible()
    page.keyboard.type(EMAIL)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.wait_for_load_state("load")
    if "登録している情報を使いますか" in page.locator("h1").inner_text():
        keys.to_text("この情報を使って入力をはじめる")
        assert keys.focus_is_visible()
        with page.expect_navigation():
            page.keyboard.press("Enter")
    page.wait_for_url(f"**/procedures/{gomi.pk}/apply/**")
    assert "申込者と収集場所" in page.locator("main").inner_text()

    # Step 1 with the phone mistyped: the summary is announced and takes the focus, and its
    # link takes the focus to the field.
    keys.answer(
        {
            "applicant_name.family": "佐藤",
            "applicant_name.given": "一郎",
            "applicant_name.family_kana": "サトウ",
            "applicant_name.given_kana": "イチロウ",
            "applicant_phone": "でんわ",
            "applicant_email": EMAIL,
            "collection_address.postal_code": "2310023",
            "collection_address.block": "1-1",
            "building_type": "apartment",
            "placement": "玄関前",
        }
    )
    keys.next_step()
    summary = page.locator("#error-summary")
    assert summary.get_attribute("role") == "alert"
    assert summary.evaluate("el => el === document.activeElement"), "summary has the focus"
    assert keys.focus_is_visible()
    axe.check("keyboard: step with an error")
    link = keys.tab_until(lambda a: a["tag"] == "a" and "電話" in a["text"])
    assert keys.focus_is_visible(), link
    page.keyboard.press("Enter")
    assert keys.active()["name"] == "applicant_phone"
    assert keys.focus_is_visible()
    page.keyboard.press("Control+A")
    page.keyboard.type("045-671-2121")
    with page.expect_navigation():
        page.keyboard.press("Enter")  # Enter in a text box sends the step (次へ)

    # Step 2: one item, then a second one added with the keyboard and filled.
    assert page.locator("input[name='items.0.name']").count() == 1
    keys.answer(
        {"items.0.name": "自転車", "items.0.quantity": "1", "items.0.tickets_per_item": "2"}
    )
    keys.to_text("品目を追加")
    page.keyboard.press("Space")
    # The new item comes in place (htmx, no page load) and its first field has the focus.
    page.wait_for_function("document.activeElement.name === 'items.1.name'")
    assert keys.focus_is_visible()
    keys.answer(
        {"items.1.name": "たんす", "items.1.quantity": "1", "items.1.tickets_per_item": "3"}
    )
    keys.next_step()

    # Step 3 and 4.
    keys.answer({"collection_date": collection_day().isoformat(), "payment_method": "ticket"})
    keys.next_step()
    keys.answer({"items_confirmed": "yes", "rules_confirmed": "yes"})
    keys.next_step()
    page.wait_for_url("**/apply/confirm/")
    assert "自転車" in page.locator("main").inner_text()
    keys.to_text("この内容で申請する")
    assert keys.focus_is_visible()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.wait_for_url("**/applications/*/done/")
    application = Application.objects.get()
    assert page.locator(".receipt-number").inner_text() == application.receipt_number
    assert application.answers["applicant_phone"] == "0456712121"
    assert [i["name"] for i in application.answers["items"]] == ["自転車", "たんす"]
    keys.to_text("到達通知（PDF）をダウンロード")
    assert keys.focus_is_visible()
    assert axe.violations == {}


# --- 3. Double submission ----------------------------------------------------------------------


def test_a_double_click_a_second_tab_and_the_back_button_make_one_application(page):
    (gomi,) = published("sodai-gomi")
    user = verified_resident(EMAIL)
    page.goto("/")
    log_in_browser(page, user)
    base = f"/o/141003/procedures/{gomi.pk}/apply/"
    page.goto(base + "start/")
    if page.get_by_role("button", name="使わずに入力をはじめる").count():
        page.get_by_role("button", name="使わずに入力をはじめる").click()
    page.wait_for_url(f"**{base}**")
    steps = [
        {
            "applicant_name.family": "佐藤",
            "applicant_name.given": "一郎",
            "applicant_name.family_kana": "サトウ",
            "applicant_name.given_kana": "イチロウ",
            "applicant_phone": "045-671-2121",
            "applicant_email": EMAIL,
            "collection_address.postal_code": "2310023",
            "collection_address.block": "1-1",
            "building_type": "detached",
            "placement": "玄関前",
        },
        {"items.0.name": "自転車", "items.0.quantity": "1", "items.0.tickets_per_item": "2"},
        {"collection_date": collection_day().isoformat(), "payment_method": "ticket"},
        {"items_confirmed": "yes", "rules_confirmed": "yes"},
    ]
    for values in steps:
        fill(page, values)
        press_next(page)
    page.wait_for_url("**/apply/confirm/")

    # The same confirmation open in a second tab, as after a timeout or a stale page.
    other_tab = page.context.new_page()
    other_tab.goto(page.url)
    assert (
        other_tab.locator("input[name=idempotency_key]").input_value()
        == page.locator("input[name=idempotency_key]").input_value()
    )

    # Two clicks as fast as the browser allows (Chromium sends one or both requests).
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    button = page.get_by_role("button", name="この内容で申請する")
    button.click(click_count=2, delay=0)
    page.wait_for_url("**/applications/*/done/")
    first = page.locator(".receipt-number").inner_text()
    assert 1 <= len([u for u in posts if u.endswith("/apply/confirm/")]) <= 2
    assert Application.objects.count() == 1

    # Sending again from the other tab: the same receipt, no second application.
    other_tab.get_by_role("button", name="この内容で申請する").click()
    other_tab.wait_for_url("**/applications/*/done/")
    assert other_tab.locator(".receipt-number").inner_text() == first
    assert Application.objects.count() == 1

    # Unsure it arrived, the resident goes back to the confirmation: it says it was sent,
    # with the same receipt, instead of an empty form to fill in again.
    page.go_back()
    page.wait_for_url("**/applications/*/done/")
    assert f"この申請は送信済みです（受付番号 {first}）" in page.locator("main").inner_text()
    assert page.locator(".receipt-number").inner_text() == first

    assert Application.objects.count() == 1
    assert Application.objects.get().receipt_number == first
    mails = [
        m
        for m in OutboxMessage.objects.values_list("payload", flat=True)
        if first in m.get("subject", "")
    ]
    assert len(mails) == 1


# --- 4. The life-event checklist ----------------------------------------------------------------


def test_the_moving_checklist_fills_shared_answers_once_and_is_accessible(page):
    moving = published("juminhyo", "suido-kaishi")
    user = verified_resident(EMAIL)
    page.goto("/")
    log_in_browser(page, user)
    axe = Axe(page)

    page.goto("/life-events/moving/?o=141003")
    axe.check("life event of 横浜市")
    page.get_by_role("link", name="チェックリストで選んでまとめて申請する").click()
    page.wait_for_url("**/life-events/moving/o/141003/apply/")
    axe.check("checklist")
    page.get_by_role("button", name="次へ", exact=True).click()
    assert page.locator(".error-summary").is_visible()
    axe.check("checklist with an error")
    for procedure in moving:
        page.get_by_label(procedure.name).check()
    page.get_by_role("button", name="次へ", exact=True).click()
    page.wait_for_url("**/apply/?stage=shared")
    axe.check("shared answers")
    page.get_by_role("button", name="次へ", exact=True).click()
    assert page.locator(".error-summary").is_visible()
    axe.check("shared answers with errors")
    fields = page.locator("form input[type=text], form input[type=tel], form input[type=email]")
    names = [fields.nth(i).get_attribute("name") for i in range(fields.count())]
    typed = {
        "person_name.family": "山田",
        "person_name.given": "花子",
        "person_name.family_kana": "ヤマダ",
        "person_name.given_kana": "ハナコ",
        "phone": "045-000-0000",
        "address.postal_code": "2310023",
        "address.block": "1-1",
        "birth_date": "1985-04-01",
        "email": EMAIL,
    }
    fill(page, {k: v for k, v in typed.items() if k in names})
    page.get_by_role("button", name="次へ", exact=True).click()
    page.wait_for_url("**/apply/?stage=forms")
    axe.check("each application")
    drafts = Draft.objects.filter(applicant=user)
    assert drafts.count() == 2
    page.get_by_role("link", name=moving[0].name).click()
    page.wait_for_url(f"**/procedures/{moving[0].pk}/apply/**")
    axe.check("a form started from the checklist")
    family = page.locator("input[autocomplete=family-name]").first
    assert family.input_value() == "山田"
    assert axe.violations == {}
