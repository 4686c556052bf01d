"""Fixtures for the catalog: the national templates loaded, the organisation admins of 横浜市
and 鎌倉市, and a way for a test to play the national government publishing a new version
of a template (for the upgrade stories).

Tests of other apps (console, api, portal) import what they need from here.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Callable
from importlib import resources
from typing import Any

import pytest
from django.test import Client

from madoguchi.catalog import services as catalog_services
from madoguchi.catalog.constants import ProcedureStatus
from madoguchi.catalog.definitions import (
    TemplateFile,
    national_life_events,
    parse_template_text,
    template_digest,
)
from madoguchi.catalog.models import LifeEvent, Procedure, TemplateVersion
from madoguchi.catalog.services import (
    TemplateLoadReport,
    procedure_adopt,
    procedure_create_own,
    procedure_set_status,
    template_load_all,
    template_version_publish,
)
from madoguchi.conftest import STAFF_PASSWORD
from madoguchi.core.time import now
from madoguchi.forms import services as forms_services
from madoguchi.forms.base import FormSpec
from madoguchi.forms.schema import check_definition
from madoguchi.identity.constants import StaffRole
from madoguchi.identity.models import Staff
from madoguchi.identity.services import staff_upsert
from madoguchi.tenants.models import Organisation

NINTEI = "jidou-teate-nintei"
FEE_TEMPLATE = "test-juminhyo"

#: A template with a fee parameter, an optional field and a computed fee: the shape of
#: 住民票の写しの交付請求. It is published by the ``fee_template`` fixture only (the shipped
#: templates have no fee), under a slug no shipped file will ever use.
FEE_TEMPLATE_YAML = """\
template:
  slug: test-juminhyo
  version: 1
  name: 住民票の写しの交付請求
  kana: ジュウミンヒョウノウツシノコウフセイキュウ
  category: 戸籍・住民票
  summary: 住民票の写しを郵送で受け取るための請求です。
  synonyms: [住民票, 住民票の写し, 住民票請求]
  life_events: [moving]
  ial: 2
  aal: 2
  retention_years: 3
  processing_days: 7
  fee: {field: fee, note: オンライン決済で納めます}
  source: 住民基本台帳法第12条（本人等の請求による住民票の写し等の交付）。試験用のひな形。
  parameters:
    unit_fee: {label: 1通あたりの手数料, default: 300, min: 0, max: 1000, unit: 円}
  optional_fields:
    purpose: {default: true}
form:
  schema_version: 1
  key: test_juminhyo
  title: 住民票の写し 交付請求書
  steps:
    - key: request
      title: 請求の内容
      sections:
        - key: requester
          title: 請求者
          fields:
            - {key: requester_name, type: person_name, label: 請求者の氏名, required: true}
            - {key: requester_phone, type: phone, label: 電話番号, required: true}
            - {key: copies, type: number, label: 必要な通数, required: true, options: {min: 1, max: 10, unit: 通}}
            - {key: purpose, type: textarea, label: 使いみち}
            - {key: identity_document, type: attachment, label: 本人確認書類, required: true, help: 運転免許証などの写し, options: {accept: [jpeg, png, pdf]}}
            - key: fee
              type: computed
              label: 手数料
              options: {expression: {multiply: [{field: copies}, {param: unit_fee}]}, unit: 円, fee: true}
    - key: consent
      title: 確認
      sections:
        - key: declaration
          title: 申立て
          fields:
            - {key: truth, type: consent, label: 記載内容に相違ないことの申立て, required: true}
"""


def own_definition(
    title: str,
    *,
    key: str = "own_form",
    description: str = "",
    extra_fields: str = "",
) -> str:
    """A small, valid own form (独自様式) as an admin would upload it."""
    lines = [
        "schema_version: 1",
        f"key: {key}",
        f"title: {title}",
    ]
    if description:
        lines.append(f"description: {description}")
    lines += [
        "steps:",
        "  - key: main",
        "    title: 申請内容",
        "    sections:",
        "      - key: applicant",
        "        title: 申請者",
        "        fields:",
        "          - {key: applicant_name, type: person_name, label: 申請者の氏名, required: true}",
        "          - {key: applicant_phone, type: phone, label: 電話番号, required: true}",
    ]
    lines += [f"          {line}" for line in extra_fields.strip().splitlines() if line]
    return "\n".join(lines) + "\n"


# --- The catalog as the national government ships it ---------------------------------------


def life_events_by_slug() -> dict[str, LifeEvent]:
    return {event.slug: event for event in LifeEvent.objects.all()}


def shipped_template(slug: str) -> TemplateFile:
    """The parsed file ``national/<slug>.yaml`` as shipped in the package."""
    folder = resources.files("madoguchi.catalog").joinpath("national")
    data = folder.joinpath(f"{slug}.yaml").read_bytes()
    events = {event["slug"] for event in national_life_events()}
    return parse_template_text(data, f"{slug}.yaml", events)


def template_file_of(version: TemplateVersion) -> TemplateFile:
    """A stored template version as the parsed file it was published from."""
    metadata = copy.deepcopy(version.metadata)
    form = metadata.pop("form")
    return TemplateFile(f"{version.template.slug}.yaml", metadata, form, version.digest)


Edit = Callable[[dict[str, Any], dict[str, Any]], None]


def publish_template_version(
    base: TemplateFile | TemplateVersion, *, version: int, edit: Edit | None = None
) -> TemplateVersion:
    """Publish a new version of a template, as the national government would.

    ``edit(metadata, form)`` changes copies of ``base``'s metadata and form in place (add or
    remove a field, a parameter, an optional field...). The digest is recomputed, and the
    version is stored with the catalog's own service, without the file checks: a test can
    publish what a careless editor might.
    """
    parsed = template_file_of(base) if isinstance(base, TemplateVersion) else base
    metadata = copy.deepcopy(parsed.metadata)
    form = copy.deepcopy(parsed.form)
    metadata["version"] = version
    metadata["changes"] = f"第{version}版（試験）"
    if edit is not None:
        edit(metadata, form)
    new = dataclasses.replace(
        parsed, metadata=metadata, form=form, digest=template_digest(metadata, form)
    )
    template_version_publish(parsed=new, life_events=life_events_by_slug(), now=now())
    return TemplateVersion.objects.select_related("template", "form_version").get(
        template__slug=metadata["slug"], version=version
    )


# Small edits for ``publish_template_version``.


def section_of(form: dict[str, Any], section_key: str) -> dict[str, Any]:
    for step in form["steps"]:
        for section in step["sections"]:
            if section["key"] == section_key:
                return dict(section)
    raise KeyError(section_key)


def add_field(form: dict[str, Any], section_key: str, field: dict[str, Any]) -> None:
    for step in form["steps"]:
        for section in step["sections"]:
            if section["key"] == section_key:
                section["fields"].append(field)
                return
    raise KeyError(section_key)


def remove_field(form: dict[str, Any], key: str) -> None:
    for step in form["steps"]:
        for section in step["sections"]:
            section["fields"] = [f for f in section["fields"] if f["key"] != key]


def relabel_field(form: dict[str, Any], key: str, label: str) -> None:
    for step in form["steps"]:
        for section in step["sections"]:
            for f in section["fields"]:
                if f["key"] == key:
                    f["label"] = label


def field_keys(schema: dict[str, Any]) -> list[str]:
    """Top-level field keys of a (composed) form definition, in order."""
    return [
        f["key"]
        for step in schema["steps"]
        for section in step["sections"]
        for f in section["fields"]
    ]


def local_question(key: str = "local_q1", **extra: Any) -> dict[str, Any]:
    return {"key": key, "type": "text", "label": "広報紙の送付を希望しますか", **extra}


# --- Fixtures ------------------------------------------------------------------------------


_PARSED: dict[tuple[str, bytes, tuple[str, ...]], TemplateFile] = {}


def _parse_once(text: str | bytes, file_name: str, life_events: set[str]) -> TemplateFile:
    """``parse_template_text``, remembered for the session: the files do not change while the
    tests run, and parsing all of them is most of the time a load takes."""
    data = text.encode() if isinstance(text, str) else bytes(text)
    key = (file_name, data, tuple(sorted(life_events)))
    if key not in _PARSED:
        _PARSED[key] = parse_template_text(data, file_name, life_events)
    return copy.deepcopy(_PARSED[key])


_CHECKED: dict[str, FormSpec] = {}


def _check_once(data: Any, lines: Any = None) -> FormSpec:
    """``check_definition`` of the national forms, remembered for the session likewise."""
    key = json.dumps(data, ensure_ascii=False, sort_keys=True)
    if key not in _CHECKED:
        _CHECKED[key] = check_definition(data, lines)
    return _CHECKED[key]


@pytest.fixture
def templates_loaded(db: None, monkeypatch: pytest.MonkeyPatch) -> TemplateLoadReport:
    """The national templates shipped in ``catalog/national`` are loaded by the real
    ``template_load_all``. Each file is parsed and each form checked once per session (they
    do not change while the tests run, and checking is most of the time a load takes)."""
    with monkeypatch.context() as patch:
        patch.setattr(catalog_services, "parse_template_text", _parse_once)
        patch.setattr(forms_services, "check_definition", _check_once)
        return template_load_all(now=now())


@pytest.fixture
def nintei(templates_loaded: TemplateLoadReport) -> TemplateVersion:
    """児童手当の認定請求, first version."""
    return TemplateVersion.objects.select_related("template", "form_version").get(
        template__slug=NINTEI, version=1
    )


@pytest.fixture
def fee_template(templates_loaded: TemplateLoadReport) -> TemplateVersion:
    """A template with a fee parameter (住民票の写しの交付請求, for tests)."""
    events = {event["slug"] for event in national_life_events()}
    parsed = parse_template_text(FEE_TEMPLATE_YAML, "test-juminhyo.yaml", events)
    template_version_publish(parsed=parsed, life_events=life_events_by_slug(), now=now())
    return TemplateVersion.objects.select_related("template", "form_version").get(
        template__slug=FEE_TEMPLATE, version=1
    )


@pytest.fixture
def juminhyo(templates_loaded: TemplateLoadReport) -> TemplateVersion:
    """The shipped 住民票 template, where one ships (skipped where no such file exists)."""
    version = (
        TemplateVersion.objects.select_related("template", "form_version")
        .filter(template__slug__startswith="juminhyo")
        .order_by("template__slug", "-version")
        .first()
    )
    if version is None:
        pytest.skip("no national juminhyo template ships in catalog/national")
    return version


@pytest.fixture
def admin_staff(organisation: Organisation) -> Staff:
    """団体管理者 of 横浜市."""
    return staff_upsert(
        organisation=organisation,
        email="admin@yokohama.test",
        password=STAFF_PASSWORD,
        role=StaffRole.ADMIN,
        display_name="管理 太郎",
    )


@pytest.fixture
def admin_client(client: Client, admin_staff: Staff) -> Client:
    client.force_login(admin_staff.user)
    return client


@pytest.fixture
def other_admin(other_organisation: Organisation) -> Staff:
    """団体管理者 of 鎌倉市."""
    return staff_upsert(
        organisation=other_organisation,
        email="admin@kamakura.test",
        password=STAFF_PASSWORD,
        role=StaffRole.ADMIN,
        display_name="管理 花子",
    )


@pytest.fixture
def adopted(organisation: Organisation, nintei: TemplateVersion) -> Procedure:
    """横浜市 has adopted 児童手当の認定請求 (準備中)."""
    return procedure_adopt(organisation=organisation, template_version=nintei, now=now())


@pytest.fixture
def published(adopted: Procedure, organisation: Organisation) -> Procedure:
    """横浜市's 児童手当の認定請求, published."""
    return procedure_set_status(
        organisation=organisation, procedure=adopted, status=ProcedureStatus.PUBLISHED
    )


def publish_own(
    organisation: Organisation, slug: str, title: str, *, kana: str = "", key: str | None = None
) -> Procedure:
    """An own procedure of ``organisation``, published."""
    procedure = procedure_create_own(
        organisation=organisation,
        slug=slug,
        definition=own_definition(title, key=key or slug.replace("-", "_")),
        kana=kana,
        now=now(),
    )
    return procedure_set_status(
        organisation=organisation, procedure=procedure, status=ProcedureStatus.PUBLISHED
    )
