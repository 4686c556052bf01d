"""The form builder in a real Chromium: an admin builds 粗大ごみ from a blank form through the
builder alone (fields, a repeatable group, a fee computed from the number of items, a
condition), publishes it, a resident applies, and the answers validate the same as with the
national 粗大ごみ template. axe-core on the builder's pages."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import jpholiday
import pytest
from django.test import Client

from madoguchi.applications.models import Application
from madoguchi.applications.publishing import procedure_set_status
from madoguchi.catalog.constants import ProcedureStatus
from madoguchi.catalog.models import Procedure
from madoguchi.core.time import now, to_tokyo
from madoguchi.forms.area import organisation_area
from madoguchi.forms.engine import validate
from madoguchi.forms.selectors import form_spec
from madoguchi.identity.constants import StaffRole
from madoguchi.identity.models import User
from madoguchi.identity.services import staff_upsert
from madoguchi.tenants.models import Organisation
from madoguchi.testing import (
    STAFF_PASSWORD,
    axe_violations,
    browser_fill,
    console_browser_login,
    procedure_publish,
)

pytestmark = pytest.mark.browser

KEY_LABEL = "識別子（半角英小文字・数字・_。集計や出力で使う名前）"


def collection_day() -> date:
    day = to_tokyo(now()).date() + timedelta(days=5)
    while day.weekday() >= 5 or jpholiday.is_holiday(day):
        day += timedelta(days=1)
    return day


def saved(page: Any) -> None:
    page.wait_for_load_state("load")
    assert "保存しました（" in page.locator("#saved").inner_text()


def add_field(
    page: Any,
    field_type: str,
    label: str,
    key: str,
    *,
    group: bool = False,
    fill: dict[str, str] | None = None,
    check: tuple[str, ...] = (),
) -> None:
    """Add a field at the end of the section (or the group) and set its key and options,
    with the links, labels and buttons a person uses."""
    where = "グループの最後に項目を追加" if group else "このまとまりの最後に項目を追加"
    page.get_by_role("link", name=where).click()
    page.get_by_label("項目の種類").select_option(field_type)
    page.get_by_label("項目の名前（住民に見える見出し）").fill(label)
    page.get_by_role("button", name="追加する").click()
    saved(page)
    edit_field(page, label, {KEY_LABEL: key, **(fill or {})}, check=check)


def edit_field(
    page: Any, label: str, values: dict[str, str], *, check: tuple[str, ...] = ()
) -> None:
    page.get_by_role("link", name=f"「{label}」を編集", exact=True).click()
    form = page.locator("#edit-form")
    for name, value in values.items():
        control = form.get_by_label(name, exact=True)
        if control.evaluate("e => e.tagName") == "SELECT":
            control.select_option(value)
        else:
            control.fill(value)
    for name in check:
        form.get_by_label(name, exact=True).check()
    form.get_by_role("button", name="変更を保存する").click()
    saved(page)
    assert page.locator(".messages .error, .notice--error[role=alert]").count() == 0


def test_an_admin_builds_sodai_gomi_from_blank_and_a_resident_applies(page):
    yokohama = Organisation.objects.get(lg_code="141003")
    admin = staff_upsert(
        organisation=yokohama,
        email="admin@yokohama.test",
        password=STAFF_PASSWORD,
        role=StaffRole.ADMIN,
    )
    console_browser_login(page, admin)
    page.goto("/console/procedures/")
    page.get_by_role("link", name="様式を作る（フォームビルダー）").click()
    assert axe_violations(page) == []
    page.get_by_label("様式の名称（例: 夏祭りの参加申込）").fill("粗大ごみ収集申込")
    page.get_by_label("手続の識別子", exact=False).fill("sodai-gomi-own")
    page.get_by_role("button", name="下書きを作る").click()
    saved(page)

    add_field(page, "person_name", "申込者の氏名", "applicant_name", check=("必須にする",))
    add_field(page, "phone", "日中に連絡のとれる電話番号", "applicant_phone", check=("必須にする",))
    add_field(
        page,
        "address",
        "収集場所の住所",
        "collection_address",
        check=("必須にする", "この団体の区域内の住所に限る"),
    )
    add_field(
        page,
        "choice",
        "建物の種類",
        "building_type",
        fill={
            "選択肢（1行に1つ。「値:表示名」とすると値を決められます）": (
                "detached:一戸建て\napartment:集合住宅（マンション・アパートなど）\n"
                "business:店舗・事務所"
            ),
            "表示の形": "radio",
        },
        check=("必須にする",),
    )
    add_field(
        page,
        "notice",
        "事業所のごみについて",
        "business_notice",
        fill={"お知らせの文": "事業活動に伴って出たごみは、この申込では収集できません。"},
    )
    # The condition: the notice only for 店舗・事務所, with a guided choice of the field.
    page.get_by_role("link", name="「事業所のごみについて」を編集", exact=True).click()
    visible = page.locator("form", has=page.locator('input[name="which"][value="visible_if"]'))
    visible.get_by_label("条件にする項目（空にすると条件を外します）").select_option(
        "building_type"
    )
    visible.get_by_label("比べ方").select_option("equals")
    visible.get_by_label("値（選択肢は住民に見える表示名のまま", exact=False).fill("business")
    visible.get_by_role("button", name="条件を設定する").click()
    saved(page)

    # The repeatable group of items: its first field is renamed, a quantity added.
    add_field(
        page,
        "group",
        "出すごみ",
        "items",
        fill={"最少の件数": "1", "最多の件数": "10", "1件の呼び方（例: 品目）": "品目"},
    )
    edit_field(page, "項目", {"項目の名前": "品目", KEY_LABEL: "name"}, check=("必須にする",))
    add_field(
        page,
        "number",
        "数量",
        "quantity",
        group=True,
        fill={"最小値": "1", "最大値": "10", "単位（例: 点、円）": "点"},
        check=("必須にする",),
    )
    # The fee: the sum of the quantities × 300円.
    add_field(page, "computed", "手数料", "fee", fill={"単位（例: 点、円）": "円"})
    page.get_by_role("link", name="「手数料」を編集", exact=True).click()
    page.get_by_label("計算の種類").select_option("sum_times")
    page.get_by_label("使う項目", exact=False).select_option("items.quantity")
    page.get_by_label("掛ける数").fill("300")
    page.get_by_role("button", name="計算式を設定する").click()
    saved(page)
    add_field(
        page,
        "date",
        "収集を希望する日",
        "collection_date",
        fill={
            "最も早い日（例: today、today+3d、2026-04-01）": "today+3d",
            "最も遅い日（例: today+60d）": "today+60d",
        },
        check=("必須にする", "平日だけ選べる"),
    )
    add_field(
        page,
        "consent",
        "収集できないものが含まれていないことの確認",
        "items_confirmed",
        fill={"同意の文": "申し込んだごみに、収集できないものが含まれていないことを確認しました。"},
        check=("必須にする",),
    )
    assert "件の問題があります" not in page.content()
    assert axe_violations(page) == []

    # The preview is the resident's form, with the condition running.
    page.get_by_role("link", name="プレビュー（住民が見る画面）").click()
    assert axe_violations(page) == []
    assert page.get_by_text("事業活動に伴って出たごみは").count() == 0 or not (
        page.get_by_text("事業活動に伴って出たごみは").first.is_visible()
    )
    page.get_by_label("店舗・事務所").check()
    page.get_by_text("事業活動に伴って出たごみは").first.wait_for(state="visible")
    page.go_back()

    page.get_by_role("button", name="公開する（様式の新しい版を作る）").click()
    page.wait_for_url("**/console/procedures/*/")
    procedure = Procedure.objects.get(organisation=yokohama, slug="sodai-gomi-own")
    assert procedure.form_version.version == 1
    procedure_set_status(
        organisation=yokohama, procedure=procedure, status=ProcedureStatus.PUBLISHED
    )

    # A resident applies to the built procedure.
    resident = User.objects.create_user("gomi.builder@example.jp", "correct horse battery 42")
    resident.email_verified_at = now()
    resident.save(update_fields=["email_verified_at"])
    page.context.clear_cookies()
    page.goto("/")
    client = Client()
    client.force_login(resident)
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": page.url}]
    )
    base = f"/o/141003/procedures/{procedure.pk}/apply/"
    page.goto(base + "start/")
    if page.get_by_role("button", name="使わずに入力をはじめる").count():
        page.get_by_role("button", name="使わずに入力をはじめる").click()
    page.wait_for_url(f"**{base}**")
    browser_fill(
        page,
        {
            "applicant_name.family": "佐藤",
            "applicant_name.given": "一郎",
            "applicant_name.family_kana": "サトウ",
            "applicant_name.given_kana": "イチロウ",
            "applicant_phone": "045-671-2121",
            "collection_address.postal_code": "2310023",
            "collection_address.block": "1-1",
            "building_type": "detached",
            "items.0.name": "自転車",
            "items.0.quantity": "2",
            "collection_date": collection_day().isoformat(),
            "items_confirmed": "yes",
        },
    )
    page.get_by_role("button", name="次へ", exact=True).click()
    page.wait_for_url("**/apply/confirm/")
    assert "600円" in page.content()
    page.get_by_role("button", name="この内容で申請する").click()
    page.wait_for_url("**/done/**")
    application = Application.objects.get(procedure=procedure)
    assert application.answers["fee"] == 600

    # The same answers, given to the national template, validate the same way.
    national = procedure_publish(yokohama, "sodai-gomi")
    built_spec, national_spec = form_spec(procedure.form_version), form_spec(national.form_version)
    area = organisation_area(yokohama)
    today = to_tokyo(now()).date()
    shared = {f.key for f in built_spec.fields} & {f.key for f in national_spec.fields}
    assert {"applicant_name", "building_type", "items", "fee", "collection_date"} <= shared
    base_answers = {
        key: value for key, value in application.answers.items() if key in shared and key != "fee"
    }
    cases: list[dict[str, Any]] = [
        {},
        {"building_type": "castle"},
        {"items": [{"name": "自転車", "quantity": "11"}]},
        {"items": []},
        {"collection_date": (today + timedelta(days=1)).isoformat()},
        {"applicant_name": {"family": "", "given": ""}},
        {"collection_address": {"postal_code": "1000001", "block": "1-1"}},
    ]
    for change in cases:
        answers: dict[str, Any] = {**base_answers, **change}
        national_answers = {
            **answers,
            "items": [{**item, "tickets_per_item": "1"} for item in answers["items"]],
        }
        built = validate(built_spec, answers, today=today, area=area)
        reference = validate(national_spec, national_answers, today=today, area=area)
        built_errors = {k.split(".")[0] for k in built.errors if k.split(".")[0] in shared}
        national_errors = {k.split(".")[0] for k in reference.errors if k.split(".")[0] in shared}
        assert built_errors == national_errors, change
        if not built_errors:
            assert built.answers["fee"] == reference.answers["fee"], change
