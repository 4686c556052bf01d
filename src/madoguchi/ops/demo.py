"""Demo data for ``make run``: 神奈川県 and its municipalities as one shared group.

Passwords are random per installation, generated on first use and kept in the data
directory (mode 0600), so a demo that is left on a reachable machine is not open to anyone
who read the README.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings

from madoguchi.catalog.constants import ProcedureStatus
from madoguchi.catalog.models import Procedure, TemplateVersion
from madoguchi.catalog.services import procedure_adopt, procedure_set_status
from madoguchi.identity.constants import StaffRole
from madoguchi.identity.services import group_operator_upsert, staff_upsert
from madoguchi.tenants.constants import MUNICIPALITY_KINDS
from madoguchi.tenants.models import Organisation
from madoguchi.tenants.selectors import organisation_get, prefecture_get
from madoguchi.tenants.services import shared_group_upsert

DEMO_GROUP_SLUG = "kanagawa"
YOKOHAMA = "141003"
KAMAKURA = "142042"


@dataclass(frozen=True)
class DemoLogin:
    role: str
    organisation: str
    email: str
    password: str
    url: str


def _passwords(path: Path) -> dict[str, str]:
    if path.exists():
        data: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
        return data
    data = {key: secrets.token_urlsafe(12) for key in ("yokohama", "kamakura", "operator")}
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
