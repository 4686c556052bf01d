"""Demo data for ``make run``: 神奈川県 and its municipalities as one shared group.

Passwords are random per installation, generated on first use and kept in the data
directory (mode 0600), so a demo that is left on a reachable machine is not open to anyone
who read the README.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import os
import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings

from madoguchi.applications.attachments import attachment_answer, attachment_store
from madoguchi.applications.constants import ApplicationStatus, Channel, ReceivedForm
from madoguchi.applications.inbox import decision_templates_of
from madoguchi.applications.models import Application, DecisionTemplate
from madoguchi.applications.publishing import procedure_set_status
from madoguchi.applications.received import application_register_received, received_form_spec
from madoguchi.applications.review import (
    application_correction_answer,
    application_correction_request,
    application_decide,
    application_move,
    decision_template_save,
)
from madoguchi.applications.services import (
    SubmissionError,
    application_canonical,
    application_submit,
)
from madoguchi.applications.signoff import decision_propose
from madoguchi.catalog.constants import ProcedureStatus
from madoguchi.catalog.drafts import (
    procedure_draft_change,
    procedure_draft_create,
    procedure_drafts_of,
)
from madoguchi.catalog.models import Procedure, TemplateVersion
from madoguchi.catalog.organisation_info import organisation_contact_of, organisation_contact_save
from madoguchi.catalog.services import (
    group_template_publish,
    procedure_adopt,
    procedure_create_own,
    procedure_set_signoff_steps,
)
from madoguchi.catalog.testers import (
    procedure_test_start,
    procedure_tester_add,
    procedure_tester_invite,
)
from madoguchi.core.time import to_tokyo
from madoguchi.documents.notice_admin import (
    document_settings_of,
    document_settings_save,
    procedure_notice_settings_of,
    procedure_notice_settings_save,
)
from madoguchi.documents.publication import register_heads_publish
from madoguchi.forms.area import organisation_area
from madoguchi.forms.base import Context, field_types
from madoguchi.forms.builder import (
    block_insert,
    computed_set,
    condition_set,
    element_add,
    field_update,
)
from madoguchi.forms.engine import validate
from madoguchi.forms.identity import verified_prefill
from madoguchi.forms.selectors import form_spec
from madoguchi.identity.assurance import VerifiedAttributes
from madoguchi.identity.constants import StaffRole
from madoguchi.identity.models import Staff, User
from madoguchi.identity.services import (
    group_operator_upsert,
    staff_set_signoff,
    staff_upsert,
)
from madoguchi.identity.signatures.testca import Person, card_sign, demo_card_ensure
from madoguchi.ops.demo_reservations import demo_reservations
from madoguchi.stats.imports import count_import_done, counts_import
from madoguchi.stats.models import ProcedureClassification
from madoguchi.stats.services import procedure_classify
from madoguchi.tenants.constants import MUNICIPALITY_KINDS
from madoguchi.tenants.models import Organisation, SharedGroup
from madoguchi.tenants.selectors import organisation_get, prefecture_get
from madoguchi.tenants.services import population_import, shared_group_upsert

DEMO_GROUP_SLUG = "kanagawa"
logger = logging.getLogger(__name__)

YOKOHAMA = "141003"
KAMAKURA = "142042"


@dataclass(frozen=True)
class DemoLogin:
    role: str
    organisation: str
    email: str
    password: str
    url: str


PASSWORD_KEYS = ("yokohama", "kamakura", "operator", "resident", "yokohama_signoff")
DEMO_RESIDENT = "resident@demo.madoguchi.jp"


def _passwords(path: Path) -> dict[str, str]:
    data: dict[str, str] = {}
    if path.exists():
        data = json.loads(path.read_text(encoding="utf-8"))
        if all(key in data for key in PASSWORD_KEYS):
            return data
    # Keys added by a newer version (the demo resident) are filled in; existing ones kept.
    for key in PASSWORD_KEYS:
        data.setdefault(key, secrets.token_urlsafe(12))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle)
    return data


def demo_setup(*, now: datetime) -> list[DemoLogin]:
    """Create (idempotently) the Kanagawa group, its portal and the demo accounts.

    Raises ``RuntimeError`` in production: demo accounts must never exist there.
    """
    if settings.PRODUCTION:
        raise RuntimeError("デモデータは本番環境（MADOGUCHI_ENV=production）では作成できません。")
    passwords = _passwords(Path(settings.DATA_DIR) / "demo_logins.json")
    kanagawa = prefecture_get(code="14")
    members = list(
        Organisation.objects.filter(
            prefecture_code="14", active=True, kind__in=[*MUNICIPALITY_KINDS]
        )
    )
    group = shared_group_upsert(
        slug=DEMO_GROUP_SLUG,
        name="かながわ電子申請共同利用グループ",
        prefecture=kanagawa,
        members=[kanagawa, *members],
        now=now,
        portal_title="かながわ電子申請ポータル",
        portal_welcome=(
            "神奈川県と県内市町村の行政手続を、24時間いつでもオンラインで申請できます。"
            "お住まいの市町村を選んでください。"
        ),
        contact="かながわ電子申請ヘルプデスク（デモ）平日 9:00〜17:00",
    )
    yokohama = organisation_get(code=YOKOHAMA)
    kamakura = organisation_get(code=KAMAKURA)
    staff_upsert(
        organisation=yokohama,
        email="staff@yokohama.demo.madoguchi.jp",
        password=passwords["yokohama"],
        role=StaffRole.ADMIN,
        display_name="横浜 太郎",
        department="デジタル統括本部",
    )
    staff_upsert(
        organisation=kamakura,
        email="staff@kamakura.demo.madoguchi.jp",
        password=passwords["kamakura"],
        role=StaffRole.REVIEWER,
        display_name="鎌倉 花子",
        department="市民課",
    )
    group_operator_upsert(
        group=group,
        email="operator@kanagawa.demo.madoguchi.jp",
        password=passwords["operator"],
        display_name="神奈川 運用",
    )
    _demo_procedures(yokohama, kamakura, now=now)
    _demo_document_settings(yokohama, kamakura, now=now)
    resident = _demo_resident(passwords["resident"], now=now)
    _demo_applications(yokohama, resident, now=now)
    _demo_received(yokohama, kamakura, now=now)
    _demo_attachments(yokohama, resident, now=now)
    _demo_versions(yokohama, resident, now=now)
    _demo_bank_account_application(yokohama, now=now)
    _demo_data_helpers(yokohama, kamakura, resident, now=now)
    _demo_signoff(yokohama, resident, passwords["yokohama_signoff"], now=now)
    _demo_decision_templates(yokohama, kamakura, now=now)
    _demo_contacts(yokohama, kamakura, now=now)
    _demo_correction(yokohama, now=now)
    _demo_classification(yokohama, now=now)
    demo_counts_import(now=now)
    demo_population_import(now=now)
    demo_current_year_counts(now=now)
    _demo_operational_test(yokohama, resident, now=now)
    _demo_builder_draft(yokohama, now=now)
    _demo_group_library(yokohama, kamakura, group, now=now)
    demo_reservations(yokohama, resident, now=now)
    # The register's daily head, so that /register/ shows the demo's notices at once.
    register_heads_publish(now=now)
    return [
        DemoLogin(
            "職員（団体管理者）",
            yokohama.name,
            "staff@yokohama.demo.madoguchi.jp",
            passwords["yokohama"],
            "/console/",
        ),
        DemoLogin(
            "職員（審査担当・決裁権者）",
            yokohama.name,
            DEMO_SIGNER,
            passwords["yokohama_signoff"],
            "/console/",
        ),
        DemoLogin(
            "職員（審査担当）",
            kamakura.name,
            "staff@kamakura.demo.madoguchi.jp",
            passwords["kamakura"],
            "/console/",
        ),
        DemoLogin(
            "グループ運用者",
            group.name,
            "operator@kanagawa.demo.madoguchi.jp",
            passwords["operator"],
            "/console/",
        ),
        DemoLogin(
            "住民（申請者）",
            "マイページ",
            DEMO_RESIDENT,
            passwords["resident"],
            "/account/login/",
        ),
    ]


_YOKOHAMA_CONTACTS = {
    "jidou-teate-nintei": "こども青少年局 こども家庭課 電話 045-000-0000（デモ）",
    "juminhyo": "市民局 窓口サービス課 電話 045-000-0001（デモ）",
}


def _demo_procedures(yokohama: Organisation, kamakura: Organisation, *, now: datetime) -> None:
    """横浜市 publishes every national template; 鎌倉市 a few, one with its own fee and a
    local question, so that the catalogue, the portal and the diff have something to show."""
    for version in TemplateVersion.objects.select_related("template").order_by(
        "template__slug", "-version"
    ):
        slug = version.template.slug
        for org, wanted in ((yokohama, True), (kamakura, slug in _KAMAKURA)):
            if not wanted or Procedure.objects.filter(organisation=org, slug=slug).exists():
                continue
            settings = dict(_KAMAKURA.get(slug, {})) if org == kamakura else {}
            if org == yokohama and slug in _YOKOHAMA_CONTACTS:
                settings["contact"] = _YOKOHAMA_CONTACTS[slug]
            known = set(version.metadata.get("parameters") or {})
            settings["parameters"] = {
                k: v for k, v in (settings.get("parameters") or {}).items() if k in known
            }
            procedure = procedure_adopt(
                organisation=org, template_version=version, settings=settings, now=now
            )
            procedure_set_status(
                organisation=org, procedure=procedure, status=ProcedureStatus.PUBLISHED
            )


_KAMAKURA: dict[str, dict[str, Any]] = {
    "juminhyo": {"parameters": {"unit_fee": 350}, "contact": "市民課 電話 0467-00-0000（デモ）"},
    "jidou-teate-nintei": {
        "local_questions": [
            {
                "key": "local_q1",
                "type": "choice",
                "label": "この手続を何で知りましたか",
                "options": {
                    "choices": [
                        {"value": "c1", "label": "市のウェブサイト"},
                        {"value": "c2", "label": "広報かまくら"},
                    ]
                },
            }
        ]
    },
    "sodai-gomi": {"parameters": {"unit_fee": 500}},
    "event-moushikomi": {},
}


def _demo_resident(password: str, *, now: datetime) -> User:
    """A resident account with a verified address, so staff see applications from someone
    who can also log in to my page and answer a correction."""
    user = User.objects.filter(email=DEMO_RESIDENT).first()
    if user is None:
        user = User.objects.create_user(DEMO_RESIDENT, password, display_name="山田 花子")
    if user.email_verified_at is None:
        user.email_verified_at = now
        user.save(update_fields=["email_verified_at"])
    return user


#: (idempotency key, name, kana, days ago, status the demo leaves it in)
_DEMO_APPLICATIONS = (
    ("demo-yokohama-juminhyo-0001", ("鎌倉", "花子", "カマクラ", "ハナコ"), 10, "submitted"),
    ("demo-yokohama-juminhyo-0002", ("佐藤", "一郎", "サトウ", "イチロウ"), 3, "accepted"),
    ("demo-yokohama-juminhyo-0003", ("髙橋", "美咲", "タカハシ", "ミサキ"), 1, "submitted"),
    ("demo-yokohama-sodai-gomi-0001", ("鈴木", "健太", "スズキ", "ケンタ"), 0, "submitted"),
    # Decided, with their 決定通知書 issued (number, issuer, 教示) and in the register.
    ("demo-yokohama-decided-juminhyo-0001", ("中村", "陽子", "ナカムラ", "ヨウコ"), 6, "approved"),
    ("demo-yokohama-decided-sodai-gomi-0001", ("小林", "誠", "コバヤシ", "マコト"), 5, "approved"),
    ("demo-yokohama-decided-juminhyo-0002", ("加藤", "翼", "カトウ", "ツバサ"), 4, "rejected"),
)


def _example_answers(
    procedure: Procedure, name: tuple[str, str, str, str], today: date
) -> dict[str, Any]:
    """Answers made of each field type's own example (valid by the type's promise), the
    applicant's name set, attachments left out (they need uploaded files)."""
    spec = form_spec(procedure.form_version)
    area = organisation_area(procedure.organisation)
    ctx = Context(today=today, area=area)
    answers: dict[str, Any] = {}
    for spec_field in spec.fields:
        ftype = field_types[spec_field.type]
        if spec_field.type == "group":
            answers[spec_field.key] = [
                {
                    c.key: field_types[c.type].example(c, ctx)
                    for c in spec_field.fields
                    if field_types[c.type].has_value and c.type != "attachment"
                }
                for _ in range(max(int(spec_field.option("min_items", 0)), 1))
            ]
        elif ftype.has_value and spec_field.type not in ("computed", "attachment"):
            answers[spec_field.key] = ftype.example(spec_field, ctx)
    person = next((f.key for f in spec.fields if f.type == "person_name"), None)
    if person:
        family, given, family_kana, given_kana = name
        answers[person] = {
            "family": family,
            "given": given,
            "family_kana": family_kana,
            "given_kana": given_kana,
        }
    # Examples of fields that do not apply (hidden by a condition) are dropped.
    for path in validate(spec, answers, today=today, area=area).errors:
        answers.pop(path.split(".")[0].split("[")[0], None)
    return answers


def _demo_signature(
    procedure: Procedure, resident: User, answers: dict[str, Any], *, key: str, at: datetime
) -> bytes | None:
    """The demo person's test My Number card signs what a procedure asks to be signed, as a
    resident would (outside production only). The first application carries the card's
    基本4情報 as its applicant (a clean verification); the others keep their own names, so
    staff see how a difference from the certificate is shown."""
    if not procedure.signature_required:
        return None
    card = demo_card_ensure(now=at)
    if card is None:
        return None
    if key.endswith("-0001"):
        # The card's address and date of birth (the name is already the card holder's, with
        # the フリガナ the card does not carry).
        person = Person()
        answers.update(
            verified_prefill(
                form_spec(procedure.form_version),
                VerifiedAttributes(address=person.address, birth_date=person.birth_date),
            )
        )
    content = application_canonical(
        organisation=procedure.organisation,
        procedure=procedure,
        applicant=resident,
        answers=answers,
        now=at,
    )
    return card_sign(card=card, content=content, now=at)


def _demo_applications(yokohama: Organisation, resident: User, *, now: datetime) -> None:
    """A few applications to 横浜市 in different states (one past its 標準処理期間), so that
    the staff inbox is not empty after ``make run``. Fixed idempotency keys make a second
    bootstrap find them and add nothing."""
    staff = Staff.objects.filter(organisation=yokohama, role=StaffRole.ADMIN).first()
    for key, name, days_ago, status in _DEMO_APPLICATIONS:
        if Application.objects.filter(
            idempotency_scope=f"user:{resident.pk}", idempotency_key=key
        ).exists():
            continue
        slug = "sodai-gomi" if "sodai-gomi" in key else "juminhyo"
        procedure = Procedure.objects.filter(organisation=yokohama, slug=slug).first()
        if procedure is None:
            continue
        at = now - timedelta(days=days_ago, hours=2)
        answers = _example_answers(procedure, name, to_tokyo(at).date())
        try:
            signature = _demo_signature(procedure, resident, answers, key=key, at=at)
            result = application_submit(
                organisation=yokohama,
                procedure=procedure,
                applicant=resident,
                answers=answers,
                idempotency_key=key,
                now=at,
                signature=signature,
            )
        except SubmissionError as error:  # a template changed shape: the demo goes on
            logger.warning("demo application %s not created: %s", key, error)
            continue
        if status in ("accepted", "approved", "rejected") and staff is not None:
            application_move(
                organisation=yokohama,
                application=result.application,
                staff=staff,
                to_status=ApplicationStatus.ACCEPTED,
                expected_status=ApplicationStatus.SUBMITTED,
                now=at + timedelta(hours=1),
            )
        if status in ("approved", "rejected") and staff is not None:
            application_decide(
                organisation=yokohama,
                application=Application.objects.select_related("procedure").get(
                    pk=result.application.pk
                ),
                staff=staff,
                outcome="approve" if status == "approved" else "reject",
                reason=_DEMO_TEMPLATES[0 if status == "approved" else 2][2],
                expected_status=ApplicationStatus.ACCEPTED,
                now=at + timedelta(days=1),
            )


#: Counter (窓口) and mail (郵送) applications, so that the inbox and the channel counts show
#: all three channels: (organisation, key, procedure slug, channel, form, name, days ago,
#: documents seen, summary).
_DEMO_RECEIVED = (
    (
        YOKOHAMA,
        "demo-counter-yokohama-0001",
        "juminhyo",
        Channel.COUNTER,
        ReceivedForm.FULL,
        ("田中", "一郎", "タナカ", "イチロウ"),
        0,
        ("my_number_card",),
        "",
    ),
    (
        YOKOHAMA,
        "demo-mail-yokohama-0001",
        "juminhyo",
        Channel.MAIL,
        ReceivedForm.SHORT,
        ("伊藤", "さくら", "イトウ", "サクラ"),
        2,
        ("mail_copy", "drivers_license"),
        "郵送で届いた住民票の写しの請求（本人分1通、返信用封筒・定額小為替同封）",
    ),
    (
        KAMAKURA,
        "demo-counter-kamakura-0001",
        "juminhyo",
        Channel.COUNTER,
        ReceivedForm.SHORT,
        ("小林", "花子", "コバヤシ", "ハナコ"),
        1,
        ("health_insurance",),
        "窓口での住民票の写しの請求（世帯全員分1通）",
    ),
)


#: Applications that show the Japanese data helpers: (organisation code, key, procedure slug,
#: answers set over the examples). The bank account is picked by name in the form (横浜銀行
#: みなとみらい支店) and shown with its names; the phone numbers are shown hyphenated by area
#: code (0467-23-1111); 鎌倉市's 粗大ごみ takes only an address in 鎌倉市 (within_organisation).
_DEMO_DATA_HELPERS: tuple[tuple[str, str, str, dict[str, Any]], ...] = (
    (
        YOKOHAMA,
        "demo-yokohama-suido-kaishi-0001",
        "suido-kaishi",
        {
            "kind": "start",
            "payment_method": "transfer",
            "account": {
                "bank_code": "0138",
                "branch_code": "307",
                "account_type": "ordinary",
                "account_number": "1234567",
                "holder": "カマクラ ハナコ",
            },
        },
    ),
    (
        KAMAKURA,
        "demo-kamakura-sodai-gomi-0001",
        "sodai-gomi",
        {
            "applicant_phone": "0467231111",
            "collection_address": {"postal_code": "248-0012", "block": "1-10-1", "building": ""},
        },
    ),
)


def _demo_data_helpers(
    yokohama: Organisation, kamakura: Organisation, resident: User, *, now: datetime
) -> None:
    """One application each with a bank account chosen by name and a 鎌倉市 collection
    address, so that staff and the resident see bank names, hyphenated phone numbers and the
    area rule at work. Fixed idempotency keys: a second bootstrap adds nothing."""
    organisations = {YOKOHAMA: yokohama, KAMAKURA: kamakura}
    for code, key, slug, overrides in _DEMO_DATA_HELPERS:
        if Application.objects.filter(
            idempotency_scope=f"user:{resident.pk}", idempotency_key=key
        ).exists():
            continue
        organisation = organisations[code]
        procedure = Procedure.objects.filter(organisation=organisation, slug=slug).first()
        if procedure is None:
            continue
        at = now - timedelta(hours=5)
        answers = _example_answers(
            procedure, ("鎌倉", "花子", "カマクラ", "ハナコ"), to_tokyo(at).date()
        )
        spec_keys = {f.key for f in form_spec(procedure.form_version).fields}
        answers.update({k: v for k, v in overrides.items() if k in spec_keys})
        try:
            application_submit(
                organisation=organisation,
                procedure=procedure,
                applicant=resident,
                answers=answers,
                idempotency_key=key,
                now=at,
            )
        except SubmissionError as error:  # a template changed shape: the demo goes on
            logger.warning("demo application %s not created: %s", key, error)


def _demo_received(yokohama: Organisation, kamakura: Organisation, *, now: datetime) -> None:
    """Counter and mail applications registered by the demo staff (once: fixed keys)."""
    for code, key, slug, channel, form, name, days_ago, documents, summary in _DEMO_RECEIVED:
        org = yokohama if code == YOKOHAMA else kamakura
        if Application.objects.filter(
            idempotency_scope=f"counter:{org.pk}", idempotency_key=key
        ).exists():
            continue
        procedure = Procedure.objects.filter(organisation=org, slug=slug).first()
        staff = (
            Staff.objects.filter(organisation=org, role__in=(StaffRole.ADMIN, StaffRole.REVIEWER))
            .select_related("user", "organisation")
            .first()
        )
        if procedure is None or staff is None:
            continue
        today = to_tokyo(now).date()
        keys = {f.key for f in received_form_spec(form_spec(procedure.form_version), form).fields}
        answers = {k: v for k, v in _example_answers(procedure, name, today).items() if k in keys}
        try:
            application_register_received(
                organisation=org,
                staff=staff,
                procedure=procedure,
                channel=channel,
                received_date=today - timedelta(days=days_ago),
                form=form,
                answers=answers,
                documents=documents,
                summary=summary,
                idempotency_key=key,
                now=now,
            )
        except SubmissionError as error:  # a template changed shape: the demo goes on
            logger.warning("demo application %s not created: %s", key, error)


# --- Attachments: a 児童手当 application with an image and a PDF (issue 11) ------------------

DEMO_ATTACHMENTS_KEY = "demo-yokohama-jidou-teate-nintei-0001"


def _demo_png() -> bytes:
    """A picture of a bank passbook's first page (drawn now, no personal data)."""
    import io

    from PIL import Image, ImageDraw

    image = Image.new("RGB", (640, 400), (244, 246, 250))
    draw = ImageDraw.Draw(image)
    draw.rectangle((20, 20, 620, 380), outline=(30, 60, 120), width=6)
    draw.rectangle((20, 20, 620, 90), fill=(30, 60, 120))
    for row, y in enumerate(range(130, 360, 46)):
        draw.line((50, y, 590, y), fill=(150, 160, 180), width=2)
        draw.rectangle((50, y - 30, 50 + 80 * (row + 2), y - 8), fill=(90, 110, 150))
    output = io.BytesIO()
    image.save(output, format="PNG")
    return output.getvalue()


def _demo_pdf() -> bytes:
    """A one-page 別居監護申立書 (demo), with the platform's embedded Japanese font."""
    import io

    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    from madoguchi.documents.fonts import font_chain

    font = font_chain()[0].name  # IPAex Gothic, embedded
    output = io.BytesIO()
    page = canvas.Canvas(output, pagesize=A4)
    page.setTitle("別居監護申立書（デモ）")
    page.setFont(font, 18)
    page.drawString(72, 770, "別居監護申立書（デモ）")
    page.setFont(font, 11)
    lines = (
        "横浜市長 様",
        "児童と別居していますが、次のとおり監護し、生計を同じくしていることを申し立てます。",
        "児童の住所: 神奈川県横浜市中区日本大通1（デモ）",
        "別居の理由: 就学のため",
        "仕送り: 毎月 50,000円",
        "この書類はデモ用に自動で作成したもので、実在の人物とは関係ありません。",
    )
    for number, line in enumerate(lines):
        page.drawString(72, 720 - number * 24, line)
    page.showPage()
    page.save()
    return output.getvalue()


def _demo_attachments(yokohama: Organisation, resident: User, *, now: datetime) -> None:
    """A 児童手当 application to 横浜市 with a passbook picture (PNG) and a 別居監護申立書
    (PDF), generated now, so that a new staff member can open a file at once (once: a fixed
    idempotency key)."""
    if Application.objects.filter(
        idempotency_scope=f"user:{resident.pk}", idempotency_key=DEMO_ATTACHMENTS_KEY
    ).exists():
        return
    procedure = Procedure.objects.filter(organisation=yokohama, slug="jidou-teate-nintei").first()
    if procedure is None:
        return
    at = now - timedelta(days=2, hours=1)
    answers = _example_answers(
        procedure, ("鎌倉", "花子", "カマクラ", "ハナコ"), to_tokyo(at).date()
    )
    files = {
        "account_document": ("通帳の写し.png", _demo_png()),
        "separate_custody_document": ("別居監護申立書.pdf", _demo_pdf()),
    }
    try:
        for field_key, (name, data) in files.items():
            stored = attachment_store(
                procedure=procedure,
                field_key=field_key,
                owner=resident,
                name=name,
                data=data,
                now=at,
            )
            answers[field_key] = [attachment_answer(stored)]
        signature = _demo_signature(procedure, resident, answers, key=DEMO_ATTACHMENTS_KEY, at=at)
        application_submit(
            organisation=yokohama,
            procedure=procedure,
            applicant=resident,
            answers=answers,
            idempotency_key=DEMO_ATTACHMENTS_KEY,
            now=at,
            signature=signature,
        )
    except Exception as error:
        logger.warning("demo application %s not created: %s", DEMO_ATTACHMENTS_KEY, error)


# --- Versions: a corrected application (第1版 and 第2版) (issue 11) ---------------------------

DEMO_VERSIONS_KEY = "demo-yokohama-juminhyo-0004"


def _demo_versions(yokohama: Organisation, resident: User, *, now: datetime) -> None:
    """A 住民票 application to 横浜市 that staff asked to correct (the telephone number) and
    the resident corrected, so that staff can compare 第1版 and 第2版 (once: a fixed key)."""
    if Application.objects.filter(
        idempotency_scope=f"user:{resident.pk}", idempotency_key=DEMO_VERSIONS_KEY
    ).exists():
        return
    procedure = Procedure.objects.filter(organisation=yokohama, slug="juminhyo").first()
    staff = (
        Staff.objects.filter(organisation=yokohama, role=StaffRole.ADMIN)
        .select_related("user", "organisation")
        .first()
    )
    if procedure is None or staff is None:
        return
    at = now - timedelta(days=4)
    answers = _example_answers(
        procedure, ("鎌倉", "花子", "カマクラ", "ハナコ"), to_tokyo(at).date()
    )
    try:
        signature = _demo_signature(procedure, resident, answers, key=DEMO_VERSIONS_KEY, at=at)
        application = application_submit(
            organisation=yokohama,
            procedure=procedure,
            applicant=resident,
            answers=answers,
            idempotency_key=DEMO_VERSIONS_KEY,
            now=at,
            signature=signature,
        ).application
        application_move(
            organisation=yokohama,
            application=application,
            staff=staff,
            to_status=ApplicationStatus.ACCEPTED,
            expected_status=ApplicationStatus.SUBMITTED,
            now=at + timedelta(hours=2),
        )
        application_correction_request(
            organisation=yokohama,
            application=application,
            staff=staff,
            body="日中に連絡のとれる電話番号につながりませんでした。番号を確認してください。",
            fields=["requester_phone"],
            expected_status=ApplicationStatus.ACCEPTED,
            now=at + timedelta(hours=3),
        )
        application.refresh_from_db()
        application_correction_answer(
            applicant=resident,
            application=application,
            changes={"requester_phone": "09012345678"},
            note="携帯電話の番号に直しました。",
            now=at + timedelta(days=1),
        )
    except Exception as error:
        logger.warning("demo application %s not corrected: %s", DEMO_VERSIONS_KEY, error)


#: A 児童手当 claim registered at the counter of 横浜市, with a bank account (振込先口座) and
#: My Number: staff can try the export's separate unmasking of each (データ出力 → 児童手当).
_DEMO_BANK_KEY = "demo-counter-yokohama-teate-0001"


def _demo_bank_account_application(yokohama: Organisation, *, now: datetime) -> None:
    """One counter-registered 児童手当 claim (once: a fixed key), for the bank export."""
    if Application.objects.filter(
        idempotency_scope=f"counter:{yokohama.pk}", idempotency_key=_DEMO_BANK_KEY
    ).exists():
        return
    procedure = Procedure.objects.filter(organisation=yokohama, slug="jidou-teate-nintei").first()
    staff = (
        Staff.objects.filter(organisation=yokohama, role__in=(StaffRole.ADMIN, StaffRole.REVIEWER))
        .select_related("user", "organisation")
        .first()
    )
    if procedure is None or staff is None:
        return
    today = to_tokyo(now).date()
    form = ReceivedForm.FULL
    keys = {f.key for f in received_form_spec(form_spec(procedure.form_version), form).fields}
    name = ("山本", "陽子", "ヤマモト", "ヨウコ")
    answers = {k: v for k, v in _example_answers(procedure, name, today).items() if k in keys}
    try:
        application_register_received(
            organisation=yokohama,
            staff=staff,
            procedure=procedure,
            channel=Channel.COUNTER,
            received_date=today,
            form=form,
            answers=answers,
            documents=("my_number_card",),
            summary="",
            idempotency_key=_DEMO_BANK_KEY,
            now=now,
        )
    except SubmissionError as error:  # a template changed shape: the demo goes on
        logger.warning("demo application %s not created: %s", _DEMO_BANK_KEY, error)


# --- Sign-off (決裁) and decision texts (文例) ----------------------------------------------------

DEMO_SIGNER = "kacho@yokohama.demo.madoguchi.jp"
#: The procedure of 横浜市 whose decisions need one sign-off step in the demo.
DEMO_SIGNOFF_PROCEDURE = "kobunsho-kaiji"


def _demo_signoff(yokohama: Organisation, resident: User, password: str, *, now: datetime) -> None:
    """横浜市's 公文書開示請求 asks for one sign-off step; 横浜 課長 (a reviewer with the sign-off
    role) may sign off; one application waits for sign-off, proposed by 横浜 太郎 (so the
    課長 can sign it off at once, and 太郎 sees that he cannot sign his own). Idempotent."""
    admin = Staff.objects.filter(organisation=yokohama, role=StaffRole.ADMIN).first()
    procedure = Procedure.objects.filter(organisation=yokohama, slug=DEMO_SIGNOFF_PROCEDURE).first()
    if admin is None or procedure is None:
        return
    signer = staff_upsert(
        organisation=yokohama,
        email=DEMO_SIGNER,
        password=password,
        role=StaffRole.REVIEWER,
        display_name="横浜 課長",
        department="総務局 法制課",
    )
    if not signer.may_sign_off:
        staff_set_signoff(
            organisation=yokohama, staff_id=signer.pk, may_sign_off=True, actor=admin, now=now
        )
    if not procedure.signoff_steps:
        procedure_set_signoff_steps(
            organisation=yokohama, procedure=procedure, steps=1, actor=admin.user, now=now
        )
    key = "demo-yokohama-signoff-0001"
    if Application.objects.filter(
        idempotency_scope=f"user:{resident.pk}", idempotency_key=key
    ).exists():
        return
    at = now - timedelta(days=2)
    answers = _example_answers(procedure, ("山田", "花子", "ヤマダ", "ハナコ"), to_tokyo(at).date())
    try:
        result = application_submit(
            organisation=yokohama,
            procedure=procedure,
            applicant=resident,
            answers=answers,
            idempotency_key=key,
            now=at,
        )
    except SubmissionError as error:  # a template changed shape: the demo goes on
        logger.warning("demo sign-off application not created: %s", error)
        return
    application = result.application
    application_move(
        organisation=yokohama,
        application=application,
        staff=admin,
        to_status=ApplicationStatus.ACCEPTED,
        expected_status=ApplicationStatus.SUBMITTED,
        now=at + timedelta(hours=1),
    )
    decision_propose(
        organisation=yokohama,
        application=Application.objects.select_related("procedure").get(pk=application.pk),
        staff=admin,
        outcome="approve",
        reason=_DEMO_TEMPLATES[0][2],
        expected_status=ApplicationStatus.ACCEPTED,
        now=at + timedelta(hours=2),
    )


#: (kind, title, body): the 文例 every demo organisation starts with.
_DEMO_TEMPLATES = (
    (
        "approve",
        "要件を満たしている",
        "申請の内容を審査した結果、要件を満たしていることを確認しました。",
    ),
    (
        "reject",
        "受付期間外",
        "申請は受付期間を過ぎてから到達したため、受け付けることができません。",
    ),
    (
        "reject",
        "対象外（住所が市外）",
        "申請者の住所が本市の区域外のため、この手続の対象となりません。"
        "お住まいの市区町村にお問い合わせください。",
    ),
    (
        "correction",
        "添付書類の不足",
        "必要な添付書類が確認できませんでした。該当する書類の写真またはPDFを添付してください。",
    ),
    (
        "correction",
        "連絡先の確認",
        "日中に連絡のとれる電話番号を確認し、正しい番号を入力してください。",
    ),
)


def _demo_classification(yokohama: Organisation, *, now: datetime) -> None:
    """横浜市's admin files 犬の登録 as 「集計の対象外」 (it is in no confirmed national list),
    through the console's service; every other procedure is counted under its national
    template's default category. Only once: an admin's later choice is kept."""
    admin = Staff.objects.filter(organisation=yokohama, role=StaffRole.ADMIN).first()
    procedure = Procedure.objects.filter(organisation=yokohama, slug="inu-toroku").first()
    if admin is None or procedure is None:
        return
    if ProcedureClassification.objects.filter(procedure=procedure).exists():
        return
    procedure_classify(
        organisation=yokohama, procedure=procedure, category_code="", actor=admin.user, now=now
    )


def _demo_decision_templates(
    yokohama: Organisation, kamakura: Organisation, *, now: datetime
) -> None:
    """Decision texts (文例) for 横浜市 (by its admin, through the service) and 鎌倉市 (whose
    demo has no admin, so they are seeded as a master load would): the lists are not empty.
    Only for an organisation that has none (an admin's own edits are kept)."""
    admin = Staff.objects.filter(organisation=yokohama, role=StaffRole.ADMIN).first()
    if admin is not None and not decision_templates_of(organisation=yokohama):
        for kind, title, body in _DEMO_TEMPLATES:
            decision_template_save(
                organisation=yokohama, staff=admin, kind=kind, title=title, body=body, now=now
            )
    if not decision_templates_of(organisation=kamakura):
        DecisionTemplate.objects.bulk_create(
            DecisionTemplate(
                organisation=kamakura,
                kind=kind,
                title=title,
                body=body.replace("本市", "鎌倉市"),
                created_at=now,
                updated_at=now,
            )
            for kind, title, body in _DEMO_TEMPLATES
        )


_DEMO_TERMS = (
    "{name}電子申請の利用規約（デモ）\n"
    "1. この規約は、{name}がこのシステムで受け付ける電子申請の利用について定めます。\n"
    "2. 申請者は、正確な内容で申請してください。偽りの申請は受け付けません。\n"
    "3. システムの保守のため、予告なく利用を停止することがあります。"
)
_DEMO_PRIVACY = (
    "{name}は、電子申請で受け取った個人情報を、{name}個人情報保護条例（デモ）に従い、"
    "申請の処理に必要な範囲でのみ利用します。法令に定める場合を除き、本人の同意なく"
    "第三者に提供しません。"
)


def _demo_document_settings(
    yokohama: Organisation, kamakura: Organisation, *, now: datetime
) -> None:
    """The issuer, number prefix of the demo organisations' notices (the 教示 stay the
    defaults), and 横浜市's 粗大ごみ with numbers of its own (once: what a demo admin changes
    afterwards is kept). The names are made up."""
    issuers = {
        yokohama: ("横浜市長", "港 一郎", "横市"),
        kamakura: ("鎌倉市長", "若宮 大路", "鎌市"),
    }
    for org, (title, name, prefix) in issuers.items():
        if document_settings_of(organisation=org) is None:
            document_settings_save(
                organisation=org,
                actor=None,
                data={"issuer_title": title, "issuer_name": name, "number_prefix": prefix},
                now=now,
            )
    procedure = Procedure.objects.filter(organisation=yokohama, slug="sodai-gomi").first()
    if procedure is not None:
        key = f"procedure:{procedure.pk}"
        if procedure_notice_settings_of(organisation=yokohama, procedure_key=key) is None:
            procedure_notice_settings_save(
                organisation=yokohama,
                actor=None,
                procedure_key=key,
                data={"own_series": True, "number_prefix": "横資循"},
                now=now,
            )


def _demo_contacts(yokohama: Organisation, kamakura: Organisation, *, now: datetime) -> None:
    """The demo organisations' own contact details, terms and privacy policy (once: what a
    demo admin changes afterwards is kept)."""
    contacts = {
        yokohama: {
            "desk_name": "横浜市 市民局 窓口サービス課（デモ）",
            "phone": "045-000-0001",
            "email": "madoguchi@yokohama.demo.madoguchi.jp",
            "address": "神奈川県横浜市中区本町6-50-10",
            "hours": "平日 8時45分〜17時15分",
        },
        kamakura: {
            "desk_name": "鎌倉市 市民課（デモ）",
            "phone": "0467-00-0000",
            "email": "madoguchi@kamakura.demo.madoguchi.jp",
            "address": "神奈川県鎌倉市御成町18-10",
            "hours": "平日 8時30分〜17時15分",
        },
    }
    for org, fields in contacts.items():
        if organisation_contact_of(organisation=org) is not None:
            continue
        organisation_contact_save(
            organisation=org,
            actor=None,
            data={
                **fields,
                "terms": _DEMO_TERMS.format(name=org.name),
                "privacy": _DEMO_PRIVACY.format(name=org.name),
            },
            now=now,
        )


#: The 児童手当 application with the passbook picture (``_demo_attachments``) is also the one
#: staff asked to correct: one person may hold one 児童手当 application (its duplicate rule), so
#: the demo resident cannot have two.
DEMO_CORRECTION_KEY = DEMO_ATTACHMENTS_KEY


def _demo_correction(yokohama: Organisation, *, now: datetime) -> None:
    """Staff ask the demo resident to correct the address, the bank account and the passbook
    picture of the 児童手当 application: on my page the correction form starts from what was
    sent (the account number masked), and the picture can be replaced alone. Once: only while
    the application is still as it arrived."""
    application = Application.objects.filter(
        organisation=yokohama,
        idempotency_key=DEMO_CORRECTION_KEY,
        status=ApplicationStatus.SUBMITTED,
    ).first()
    staff = Staff.objects.filter(organisation=yokohama, role=StaffRole.ADMIN).first()
    if application is None or staff is None:
        return
    try:
        application_correction_request(
            organisation=yokohama,
            application=application,
            staff=staff,
            body="番地が住民登録と異なります。口座と通帳の写真もあわせて確認してください。",
            fields=["claimant_address", "account", "account_document"],
            expected_status=ApplicationStatus.SUBMITTED,
            now=application.arrived_at + timedelta(hours=3),
        )
    except Exception as error:  # a template changed shape: the demo goes on
        logger.warning("demo correction of %s not made: %s", DEMO_CORRECTION_KEY, error)


#: Invented counts of procedures done outside the platform (see demo_data/README.md).
DEMO_COUNTS_FILE = Path(__file__).resolve().parent / "demo_data" / "statistics-import.csv"


def demo_counts_import(*, now: datetime) -> bool:
    """Import the demo's counts from other systems once, through the same service as
    ``madoguchi stats import`` (an import of this very file is recorded by its SHA-256, so a
    second bootstrap adds nothing). True when it imported."""
    content = DEMO_COUNTS_FILE.read_bytes()
    if count_import_done(file_sha256=hashlib.sha256(content).hexdigest()):
        return False
    counts_import(
        content=content,
        file_name=DEMO_COUNTS_FILE.name,
        scope_organisation=None,
        actor=None,
        now=now,
    )
    return True


#: Rounded populations of Kanagawa for the demo (see demo_data/README.md): not official.
DEMO_POPULATION_FILE = Path(__file__).resolve().parent / "demo_data" / "population-kanagawa.csv"


def demo_population_import(*, now: datetime) -> bool:
    """Give the demo's prefecture its (rounded, demo) population through the official
    population import's service, where the master has none yet. True when it imported."""
    if Organisation.objects.filter(prefecture_code="14", population__isnull=False).exists():
        return False
    population_import(
        data=DEMO_POPULATION_FILE.read_bytes(),
        file_name=DEMO_POPULATION_FILE.name,
        as_of=date(2024, 1, 1),
        now=now,
    )
    return True


def demo_current_year_counts(*, now: datetime) -> int:
    """Monthly counts from other systems for the months of the current fiscal year that have
    ended, derived from the last year in ``statistics-import.csv`` (its month, or a twelfth of
    its year), imported through the same service as any file. Returns the rows imported (0
    when there is nothing new: the same months were imported already)."""
    today = to_tokyo(now).date()
    current = today.year if today.month >= 4 else today.year - 1
    with DEMO_COUNTS_FILE.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    base_year = max(int(row["年度"]) for row in rows)
    if current <= base_year:
        return 0
    yearly: dict[tuple[str, str], tuple[int, int]] = {}
    monthly: dict[tuple[str, str, int], tuple[int, int]] = {}
    for row in rows:
        if int(row["年度"]) != base_year:
            continue
        counts = (int(row["総件数"]), int(row["オンライン件数"]))
        if row["月"]:  # "2025年4月" or "4"
            number = int(re.findall(r"\d+", row["月"])[-1])
            monthly[row["団体コード"], row["手続"], number] = counts
        else:
            yearly[row["団体コード"], row["手続"]] = counts
    ended = []
    month = date(current, 4, 1)
    while month < today.replace(day=1):
        ended.append(month.month)
        month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    if not ended:
        return 0
    keys = sorted({*yearly, *((code, category) for code, category, _ in monthly)})
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["団体コード", "年度", "月", "手続", "総件数", "オンライン件数"])
    written = 0
    for code, category in keys:
        for number in ended:
            if (code, category, number) in monthly:
                total, online = monthly[code, category, number]
            elif (code, category) in yearly:
                total, online = (value // 12 for value in yearly[code, category])
            else:
                continue
            writer.writerow([code, current, number, category, total, min(online, total)])
            written += 1
    content = out.getvalue().encode("utf-8")
    if not written or count_import_done(file_sha256=hashlib.sha256(content).hexdigest()):
        return 0
    counts_import(
        content=content,
        file_name=f"demo-counts-{current}.csv",
        scope_organisation=None,
        actor=None,
        now=now,
    )
    return written


# --- 運用テスト (operational test before publishing) ------------------------------------------

_TEST_SLUG = "demo-bousai-kunren"
_TEST_FORM = """schema_version: 1
key: demo_bousai_kunren
title: 地域防災訓練の参加申込
description: 区の地域防災拠点で行う防災訓練への参加を申し込みます（運用テスト中のデモ手続）。
steps:
  - key: main
    title: 申込内容
    sections:
      - key: applicant
        title: 申込者
        fields:
          - {key: applicant_name, type: person_name, label: 申込者の氏名, required: true}
          - {key: applicant_phone, type: phone, label: 電話番号, required: true}
"""


_DRAFT_SLUG = "natsumatsuri"


def _demo_builder_draft(yokohama: Organisation, *, now: datetime) -> None:
    """A 横浜市 form being built in the console's form builder (様式の作成): the applicant
    block, a repeatable group of participants, a fee from their number and a condition,
    left as a draft (not published). Once: a second bootstrap finds it and adds nothing."""
    if procedure_drafts_of(organisation=yokohama).filter(slug=_DRAFT_SLUG).exists():
        return
    admin = Staff.objects.filter(
        organisation=yokohama, role=StaffRole.ADMIN, user__email="staff@yokohama.demo.madoguchi.jp"
    ).first()
    if admin is None:
        return
    draft = procedure_draft_create(
        organisation=yokohama,
        slug=_DRAFT_SLUG,
        title="夏祭りの参加申込（作成中）",
        actor=admin.user,
        now=now,
    )
    section = "steps[0].sections[0]"

    def build(definition: dict[str, Any]) -> dict[str, Any]:
        definition, _ = block_insert(definition, parent=section, position=0, block="applicant")
        definition, group = element_add(
            definition,
            parent=section,
            position=5,
            kind="field",
            field_type="group",
            label="参加者",
        )
        definition = field_update(
            definition,
            path=f"{group}.fields[0]",
            changes={"label": "参加者の名前", "key": "participant_name"},
        )
        definition = field_update(
            definition, path=group, changes={"key": "participants", "max_items": "5"}
        )
        definition, fee = element_add(
            definition,
            parent=section,
            position=6,
            kind="field",
            field_type="computed",
            label="参加費",
        )
        definition = field_update(
            definition, path=fee, changes={"key": "fee", "unit": "円", "fee": "on"}
        )
        definition = computed_set(
            definition, path=fee, kind="count_times", ref="participants", factor="500"
        )
        definition, choice = element_add(
            definition,
            parent=section,
            position=7,
            kind="field",
            field_type="yesno",
            label="車いすを使う参加者がいますか",
        )
        definition = field_update(definition, path=choice, changes={"key": "wheelchair"})
        definition, notice = element_add(
            definition,
            parent=section,
            position=8,
            kind="field",
            field_type="textarea",
            label="必要な配慮",
        )
        return condition_set(
            definition,
            path=notice,
            which="visible_if",
            ref="wheelchair",
            operator="equals",
            value="yes",
        )

    procedure_draft_change(
        organisation=yokohama,
        draft_id=draft.pk,
        revision=draft.revision,
        change=build,
        actor=admin.user,
        now=now,
    )


def _demo_operational_test(yokohama: Organisation, resident: User, *, now: datetime) -> None:
    """A 横浜市 own procedure still 準備中, under operational test: the admin named as a staff
    tester, the demo resident invited (matched by the account's verified address), and one
    test application from the resident, marked 運用テスト in the console and on my page.
    Publishing it from the console's 運用テスト page purges the test application. Once: a
    second bootstrap finds the procedure and adds nothing."""
    if Procedure.objects.filter(organisation=yokohama, slug=_TEST_SLUG).exists():
        return
    admin = Staff.objects.filter(
        organisation=yokohama, role=StaffRole.ADMIN, user__email="staff@yokohama.demo.madoguchi.jp"
    ).first()
    if admin is None:
        return
    procedure = procedure_create_own(
        organisation=yokohama,
        slug=_TEST_SLUG,
        definition=_TEST_FORM,
        kana="ちいきぼうさいくんれん",
        now=now,
    )
    started = now - timedelta(days=1)
    procedure_test_start(organisation=yokohama, procedure=procedure, actor=admin.user, now=started)
    procedure_tester_add(
        organisation=yokohama, procedure=procedure, staff_id=admin.pk, actor=admin.user, now=started
    )
    procedure_tester_invite(
        organisation=yokohama,
        procedure=procedure,
        email=resident.email,
        actor=admin.user,
        now=started,
        client_address="127.0.0.1",
    )
    at = now - timedelta(hours=1)
    answers = _example_answers(procedure, ("試験", "花子", "シケン", "ハナコ"), to_tokyo(at).date())
    try:
        application_submit(
            organisation=yokohama,
            procedure=procedure,
            applicant=resident,
            answers=answers,
            idempotency_key="demo-yokohama-test-bousai-0001",
            now=at,
        )
    except SubmissionError as error:
        logger.warning("demo test application not created: %s", error)


_LIBRARY_SLUG = "demo-seisou-volunteer"
_LIBRARY_FORM = """schema_version: 1
key: demo_seisou_volunteer
title: 地域清掃ボランティアの参加申込
description: 海岸・公園の清掃活動に参加するボランティアを募集します（グループのひな形のデモ）。
steps:
  - key: main
    title: 申込内容
    sections:
      - key: applicant
        title: 参加者
        fields:
          - {key: applicant_name, type: person_name, label: 参加者の氏名, required: true}
          - {key: applicant_phone, type: phone, label: 電話番号, required: true}
          - {key: people, type: number, label: 参加人数, required: true, options: {min: 1, max: 20, unit: 人}}
"""
_LIBRARY_FIELD_V2 = "          - {key: gloves, type: yesno, label: 軍手の貸出しを希望する}\n"


def _demo_group_library(
    yokohama: Organisation, kamakura: Organisation, group: SharedGroup, *, now: datetime
) -> None:
    """グループ内ひな形: 横浜市 publishes its own 地域清掃ボランティア form to the group's
    library, 鎌倉市 adopts it (and publishes it), and 横浜市 then publishes a second version
    with one more question — so 鎌倉市's procedure list shows that a new version is there,
    and its admin can move to it with the change in words. Once: a second bootstrap finds
    the template and adds nothing."""
    if Procedure.objects.filter(organisation=yokohama, slug=_LIBRARY_SLUG).exists():
        return
    source = procedure_create_own(
        organisation=yokohama,
        slug=_LIBRARY_SLUG,
        definition=_LIBRARY_FORM,
        kana="チイキセイソウボランティア",
        now=now - timedelta(days=14),
    )
    procedure_set_status(organisation=yokohama, procedure=source, status=ProcedureStatus.PUBLISHED)
    first, _ = group_template_publish(
        organisation=yokohama,
        group=group,
        procedure=source,
        actor=None,
        now=now - timedelta(days=14),
    )
    adopted = procedure_adopt(
        organisation=kamakura,
        template_version=first,
        settings={"contact": "鎌倉市 市民活動課 電話 0467-00-0001（デモ）"},
        now=now - timedelta(days=10),
    )
    procedure_set_status(organisation=kamakura, procedure=adopted, status=ProcedureStatus.PUBLISHED)
    source = procedure_create_own(
        organisation=yokohama,
        slug=_LIBRARY_SLUG,
        definition=_LIBRARY_FORM + _LIBRARY_FIELD_V2,
        kana="チイキセイソウボランティア",
        now=now - timedelta(days=2),
    )
    group_template_publish(
        organisation=yokohama,
        group=group,
        procedure=source,
        actor=None,
        now=now - timedelta(days=2),
    )
