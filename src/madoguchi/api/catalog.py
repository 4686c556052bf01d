"""Templates, procedures and server-side validation of answers."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest
from ninja import Router, Schema, Status
from ninja.errors import HttpError

from madoguchi.api.schemas import ErrorOut
from madoguchi.catalog.models import Procedure
from madoguchi.catalog.selectors import procedures_of, published_procedure_get, templates_list
from madoguchi.core.lgcode import InvalidLgCode
from madoguchi.core.time import now, to_tokyo
from madoguchi.forms.area import organisation_area
from madoguchi.forms.engine import validate
from madoguchi.forms.selectors import form_spec
from madoguchi.tenants.models import Organisation
from madoguchi.tenants.selectors import organisation_get

router = Router(tags=["手続・ひな形"])

MAX_BODY_BYTES = 2 * 1024 * 1024
MAX_JSON_DEPTH = 64


class TemplateOut(Schema):
    id: int
    slug: str
    name: str
    kana: str
    category: str
    version: int
    versions: list[int]
    life_events: list[str]
    ial: int
    aal: int
    signature_required: bool
    retention_years: int
    source: str


class OrganisationRef(Schema):
    lg_code: str
    name: str


class TemplateRef(Schema):
    slug: str
    version: int


class ProcedureOut(Schema):
    id: int
    slug: str
    name: str
    kana: str
    summary: str
    organisation: OrganisationRef
    template: TemplateRef | None
    ial: int
    aal: int
    signature_required: bool
    retention_years: int
    processing_days: int | None
    reception_starts_at: datetime | None
    reception_ends_at: datetime | None
    life_events: list[str]
    form_version: int
    url: str


class FormOut(Schema):
    version: int
    digest: str
    definition: dict[str, Any]


class ProcedureDetailOut(ProcedureOut):
    form: FormOut


class ValidateIn(Schema):
    answers: dict[str, Any]
    step: str | None = None


class ValidateOut(Schema):
    valid: bool
    answers: dict[str, Any]


def _procedure_out(procedure: Procedure) -> dict[str, Any]:
    version = procedure.template_version
    return {
        "id": procedure.pk,
        "slug": procedure.slug,
        "name": procedure.name,
        "kana": procedure.kana,
        "summary": procedure.summary,
        "organisation": {
            "lg_code": procedure.organisation.lg_code,
            "name": procedure.organisation.name,
        },
        "template": {"slug": version.template.slug, "version": version.version}
        if version
        else None,
        "ial": procedure.ial,
        "aal": procedure.aal,
        "signature_required": procedure.signature_required,
        "retention_years": procedure.retention_years,
        "processing_days": procedure.processing_days,
        "reception_starts_at": procedure.reception_starts_at,
        "reception_ends_at": procedure.reception_ends_at,
        "life_events": [event.slug for event in procedure.life_events.all()],
        "form_version": procedure.form_version.version,
        "url": f"/o/{procedure.organisation.lg_code}/procedures/{procedure.pk}/",
    }


@router.get("/templates/", response=list[TemplateOut], summary="国のひな形の一覧")
def list_templates(request: HttpRequest) -> list[dict[str, Any]]:
    result = []
    for template in templates_list():
        versions = list(template.versions.all())
        latest = versions[-1]
        meta = latest.metadata
        result.append(
            {
                "id": template.pk,
                "slug": template.slug,
                "name": template.name,
                "kana": template.kana,
                "category": template.category,
                "version": latest.version,
                "versions": [v.version for v in versions],
                "life_events": [event.slug for event in template.life_events.all()],
                "ial": meta["ial"],
                "aal": meta["aal"],
                "signature_required": bool(meta.get("signature_required", False)),
                "retention_years": meta["retention_years"],
                "source": meta["source"],
            }
        )
    return result


def _organisation(code: str) -> Organisation:
    try:
        return organisation_get(code=code)
    except InvalidLgCode as error:
        raise HttpError(400, str(error)) from None
    except Organisation.DoesNotExist:
        raise HttpError(404, "その団体コードの団体は見つかりません。") from None


@router.get(
    "/organisations/{code}/procedures/",
    response={200: list[ProcedureOut], 400: ErrorOut, 404: ErrorOut},
    summary="団体が公開している手続",
)
def list_procedures(request: HttpRequest, code: str) -> list[dict[str, Any]]:
    organisation = _organisation(code)
    qs = (
        procedures_of(organisation=organisation)
        .select_related("organisation")
        .prefetch_related("life_events")
    )
    return [_procedure_out(p) for p in qs]


def _published(procedure_id: int) -> Procedure:
    try:
        return published_procedure_get(procedure_id=procedure_id)
    except Procedure.DoesNotExist:
        raise HttpError(
            404, "その手続は見つかりません（公開されていないか、受付を終了しています）。"
        ) from None


@router.get(
    "/procedures/{procedure_id}/",
    response={200: ProcedureDetailOut, 404: ErrorOut},
    summary="手続とその様式",
)
def get_procedure(request: HttpRequest, procedure_id: int) -> dict[str, Any]:
    procedure = _published(procedure_id)
    data = _procedure_out(procedure)
    version = procedure.form_version
    data["form"] = {
        "version": version.version,
        "digest": version.digest,
        "definition": version.schema,
    }
    return data


def _depth(value: Any, limit: int) -> int:
    stack = [(value, 1)]
    deepest = 0
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return deepest


@router.post(
    "/procedures/{procedure_id}/validate",
    response={200: ValidateOut, 400: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    summary="回答の検証（保存はしません）",
    description="様式に照らして回答を正規化・検証します。誤りは項目のパス（例: children[1].birth_date）ごとに返します。",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": ValidateIn.model_json_schema()}},
        }
    },
)
def validate_answers(request: HttpRequest, procedure_id: int) -> Status[dict[str, Any]]:
    procedure = _published(procedure_id)
    # The body is parsed here rather than by a schema so that hostile JSON (very deep,
    # huge, wrong types) gets a clear Japanese answer instead of a recursion error.
    try:
        raw: bytes | None = request.body
    except RequestDataTooBig:  # beyond DATA_UPLOAD_MAX_MEMORY_SIZE, Django will not read it
        raw = None
    if raw is None or len(raw) > MAX_BODY_BYTES:
        raise HttpError(400, "リクエストが大きすぎます（2MBまで）。")
    try:
        body = json.loads(raw or b"null")
    except (ValueError, RecursionError):
        raise HttpError(400, "JSONとして読めません。") from None
    if not isinstance(body, dict) or not isinstance(body.get("answers"), dict):
        raise HttpError(422, '本文は {"answers": {項目: 値}} の形で送ってください。')
    if _depth(body, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
        raise HttpError(422, "回答の入れ子が深すぎます。")
    try:
        # "\ud800" is valid JSON but no character: it could not be sent back (a 500).
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise HttpError(
            400, "JSONとして読めません（文字として使えないコードが含まれています）。"
        ) from None
    step = body.get("step")
    spec = form_spec(procedure.form_version)
    if step is not None and (not isinstance(step, str) or step not in {s.key for s in spec.steps}):
        raise HttpError(422, "step にはこの様式のステップの key を指定してください。")
    today: date = to_tokyo(now()).date()
    result = validate(
        spec,
        body["answers"],
        today=today,
        step=step,
        area=organisation_area(procedure.organisation),
    )
    if result.errors:
        errors = [{"field": path, "message": message} for path, message in result.errors.items()]
        return Status(422, {"detail": "回答に誤りがあります。", "errors": errors})
    return Status(200, {"valid": True, "answers": result.answers})
