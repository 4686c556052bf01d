"""Demo data for ``make run``: 神奈川県 and its municipalities as one shared group.

Passwords are random per installation, generated on first use and kept in the data
directory (mode 0600), so a demo that is left on a reachable machine is not open to anyone
who read the README.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings

from madoguchi.applications.attachments import attachment_answer, attachment_store
from madoguchi.applications.constants import ApplicationStatus, Channel, ReceivedForm
from madoguchi.applications.models import Application
from madoguchi.applications.received import application_register_received, received_form_spec
from madoguchi.applications.review import application_correction_request, application_move
from madoguchi.applications.services import (
    SubmissionError,
    application_canonical,
    application_submit,
)
from madoguchi.applications.uploads import UploadRefused
from madoguchi.catalog.constants import ProcedureStatus
from madoguchi.catalog.models import Procedure, TemplateVersion
from madoguchi.catalog.services import procedure_adopt, procedure_set_status
from madoguchi.core.time import to_tokyo
from madoguchi.forms.base import Context, field_types
from madoguchi.forms.engine import validate
from madoguchi.forms.identity import verified_prefill
from madoguchi.forms.selectors import form_spec
from madoguchi.identity.assurance import VerifiedAttributes
from madoguchi.identity.constants import StaffRole
from madoguchi.identity.models import Staff, User
from madoguchi.identity.services import group_operator_upsert, staff_upsert
from madoguchi.identity.signatures.testca import Person, card_sign, demo_card_ensure
from madoguchi.tenants.constants import MUNICIPALITY_KINDS
from madoguchi.tenants.models import Organisation
from madoguchi.tenants.selectors import organisation_get, prefecture_get
from madoguchi.tenants.services import shared_group_upsert

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


PASSWORD_KEYS = ("yokohama", "kamakura", "operator", "resident")
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
    resident = _demo_resident(passwords["resident"], now=now)
    _demo_applications(yokohama, resident, now=now)
    _demo_correction(yokohama, resident, now=now)
    _demo_received(yokohama, kamakura, now=now)
    return [
        DemoLogin(
            "職員（団体管理者）",
            yokohama.name,
            "staff@yokohama.demo.madoguchi.jp",
            passwords["yokohama"],
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
)


def _example_answers(
    procedure: Procedure, name: tuple[str, str, str, str], today: date
) -> dict[str, Any]:
    """Answers made of each field type's own example (valid by the type's promise), the
    applicant's name set, attachments left out (they need uploaded files)."""
    spec = form_spec(procedure.form_version)
    ctx = Context(today=today)
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
    for path in validate(spec, answers, today=today).errors:
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
        if status == "accepted" and staff is not None:
            application_move(
                organisation=yokohama,
                application=result.application,
                staff=staff,
                to_status=status,
                expected_status=ApplicationStatus.SUBMITTED,
                now=at + timedelta(hours=1),
            )


DEMO_CORRECTION_KEY = "demo-yokohama-jidou-teate-0001"


def _demo_png() -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (320, 200), (235, 240, 250)).save(buffer, "PNG")
    return buffer.getvalue()


def _demo_correction(yokohama: Organisation, resident: User, *, now: datetime) -> None:
    """The demo resident's 児童手当 application to 横浜市 with a passbook photo, for which the
    staff ask a correction of the address, the bank account and the photo: on my page the
    correction form starts from what was sent (the account number masked), and the photo can
    be replaced alone. A fixed idempotency key makes a second bootstrap add nothing."""
    if Application.objects.filter(
        idempotency_scope=f"user:{resident.pk}", idempotency_key=DEMO_CORRECTION_KEY
    ).exists():
        return
    procedure = Procedure.objects.filter(organisation=yokohama, slug="jidou-teate-nintei").first()
    staff = Staff.objects.filter(organisation=yokohama, role=StaffRole.ADMIN).first()
    if procedure is None or staff is None:
        return
    at = now - timedelta(days=2)
    answers = _example_answers(
        procedure, ("鎌倉", "花子", "カマクラ", "ハナコ"), to_tokyo(at).date()
    )
    try:
        photo = attachment_store(
            procedure=procedure,
            field_key="account_document",
            owner=resident,
            name="通帳.png",
            data=_demo_png(),
            now=at,
        )
        answers["account_document"] = [attachment_answer(photo)]
        signature = _demo_signature(procedure, resident, answers, key=DEMO_CORRECTION_KEY, at=at)
        result = application_submit(
            organisation=yokohama,
            procedure=procedure,
            applicant=resident,
            answers=answers,
            idempotency_key=DEMO_CORRECTION_KEY,
            now=at,
            signature=signature,
        )
    except (SubmissionError, UploadRefused) as error:  # a template changed shape
        logger.warning("demo application %s not created: %s", DEMO_CORRECTION_KEY, error)
        return
    application_correction_request(
        organisation=yokohama,
        application=result.application,
        staff=staff,
        body="番地が住民登録と異なります。口座と通帳の写真もあわせて確認してください。",
        fields=["claimant_address", "account", "account_document"],
        expected_status=ApplicationStatus.SUBMITTED,
        now=at + timedelta(hours=3),
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
