"""The staff API for forms (様式の定義): read any procedure's form as YAML or JSON, and create
or replace an organisation's own procedure's form — so that an organisation can keep its
forms in its own repository and publish them from there.

Writes go through the same service as the console's 「独自の手続を登録する」
(:func:`madoguchi.catalog.services.procedure_create_own`), with the same checks: a definition
that does not check is refused with the same Japanese problems, each with its ``path`` and
``line``, and nothing stored changes. Authentication and roles are those of the staff API
(:mod:`madoguchi.api.staff`): a staff token of the organisation with ``procedures:read`` or
``procedures:write``; another organisation's procedure answers 404 like a missing one.

Status codes: 401/403 as in the staff API; 404 no such procedure of this organisation;
409 the procedure was adopted from a template (its form follows the template: change its
settings in the console); 413 the body is larger than 1MB; 422 the definition (or the
identifier) is refused, with ``errors``.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Final, Literal

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from ninja import Path, Query, Router, Schema, Status
from ninja.errors import HttpError
from pydantic import Field

from madoguchi.api.schemas import ErrorOut
from madoguchi.api.staff import StaffAuth, StaffToken, _auth
from madoguchi.catalog.models import Procedure
from madoguchi.catalog.selectors import procedure_get, procedures_of
from madoguchi.catalog.services import CatalogError, procedure_create_own
from madoguchi.core.time import now
from madoguchi.forms.schema import MAX_DEFINITION_BYTES, InvalidDefinition, definition_yaml
from madoguchi.integrations.tokens import SCOPE_DEFINITION_READ, SCOPE_DEFINITION_WRITE

router = Router(tags=["職員API（様式）"])

MAX_ID: Final = 2**63 - 1
_AUTH = [StaffToken()]
#: Media types of a definition body (YAML or JSON; the text itself decides how it is read).
BODY_TYPES: Final = ("application/yaml", "application/json", "text/yaml", "text/plain")


class DefinitionQuery(Schema):
    format: Literal["yaml", "json"] = Field(
        "yaml", description="yaml（既定）または json。どちらも同じ様式を表します"
    )


class DefinitionProblemOut(Schema):
    field: str = Field(description="問題のある場所（例: steps[0].sections[0].fields[2].label）")
    message: str
    line: int | None = Field(None, description="送った本文の行（分かるとき）")


class DefinitionErrorOut(Schema):
    detail: str
    errors: list[DefinitionProblemOut] = Field(default_factory=list)


class DefinitionSavedOut(Schema):
    id: int
    slug: str
    name: str
    status: str = Field(description="手続の状態（新しく作った手続は draft＝準備中）")
    form_version: int = Field(description="様式の版。内容が変わらなければ版は増えません")
    created: bool = Field(description="この呼び出しで手続を新しく作ったとき true")
    changed: bool = Field(description="様式の新しい版ができたとき true")


ProcedureId = Annotated[int, Path(ge=1, le=MAX_ID, description="手続の id")]
Slug = Annotated[
    str,
    Path(
        min_length=2,
        max_length=64,
        description="独自の手続の識別子（半角英小文字で始まり、英小文字・数字・ハイフン）",
    ),
]


def _body(request: HttpRequest) -> bytes:
    try:
        raw: bytes | None = request.body
    except RequestDataTooBig:
        raw = None
    if raw is None or len(raw) > MAX_DEFINITION_BYTES:
        raise HttpError(413, "様式が大きすぎます（1MBまで）。")
    if not raw.strip():
        raise HttpError(422, "本文に様式（YAML または JSON）を入れてください。")
    return raw


def _refused(problems: list[tuple[str, str, int | None]]) -> Status[dict[str, Any]]:
    return Status(
        422,
        {
            "detail": f"様式に誤りがあります（{len(problems)}件）。",
            "errors": [
                {"field": path, "message": message, "line": line}
                for path, message, line in problems[:200]
            ],
        },
    )


def _save(
    auth: StaffAuth, slug: str, raw: bytes, existing: Procedure | None
) -> Status[dict[str, Any]]:
    before = existing.form_version_id if existing is not None else None
    try:
        procedure = procedure_create_own(
            organisation=auth.staff.organisation,
            slug=slug,
            definition=raw,
            kana=existing.kana if existing is not None else "",
            summary=existing.summary if existing is not None else "",
            ial=existing.ial if existing is not None else 1,
            aal=existing.aal if existing is not None else 1,
            retention_years=existing.retention_years if existing is not None else 5,
            processing_days=existing.processing_days if existing is not None else None,
            actor=auth.staff.user,
            channel="api",
            now=now(),
        )
    except InvalidDefinition as error:
        return _refused([(p.path, p.message, p.line) for p in error.problems])
    except CatalogError as error:
        status = 409 if existing is not None and existing.template_version_id else 422
        return Status(
            status,
            {
                "detail": error.problems[0] if error.problems else "登録できません。",
                "errors": [{"field": "", "message": p, "line": None} for p in error.problems],
            },
        )
    created = existing is None
    return Status(
        201 if created else 200,
        {
            "id": procedure.pk,
            "slug": procedure.slug,
            "name": procedure.name,
            "status": procedure.status,
            "form_version": procedure.form_version.version,
            "created": created,
            "changed": procedure.form_version_id != before,
        },
    )


def _own(auth: StaffAuth, procedure_id: int) -> Procedure:
    try:
        return procedure_get(organisation=auth.staff.organisation, procedure_id=procedure_id)
    except Procedure.DoesNotExist:
        raise HttpError(404, "その手続は見つかりません。") from None


@router.get(
    "/procedures/{procedure_id}/definition",
    auth=_AUTH,
    # 200 is described below (YAML or JSON text): naming it here too would write the key twice.
    response={404: ErrorOut, **dict.fromkeys((401, 403, 422), ErrorOut)},
    summary="手続の様式（定義）を YAML または JSON で取得する（ひな形から採用した手続は団体の設定を反映した様式）",
    openapi_extra={
        "responses": {
            "200": {
                "description": "様式の定義（format=yaml なら application/yaml）",
                "content": {
                    "application/yaml": {"schema": {"type": "string"}},
                    "application/json": {"schema": {"type": "object"}},
                },
            }
        }
    },
)
def get_definition(
    request: HttpRequest, procedure_id: ProcedureId, query: Query[DefinitionQuery]
) -> HttpResponse:
    auth = _auth(request, SCOPE_DEFINITION_READ)
    procedure = _own(auth, procedure_id)
    data = procedure.form_version.schema
    if query.format == "json":
        body = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
        response = HttpResponse(body, content_type="application/json; charset=utf-8")
    else:
        response = HttpResponse(
            definition_yaml(data), content_type="application/yaml; charset=utf-8"
        )
    response["X-Madoguchi-Form-Version"] = str(procedure.form_version.version)
    response["Cache-Control"] = "no-store"
    return response


_WRITE_RESPONSES: Final = {
    200: DefinitionSavedOut,
    201: DefinitionSavedOut,
    404: ErrorOut,
    409: DefinitionErrorOut,
    413: ErrorOut,
    422: DefinitionErrorOut,
    401: ErrorOut,
    403: ErrorOut,
}
_BODY_DOC: Final = {
    "requestBody": {
        "required": True,
        "description": "様式の定義（YAML または JSON、UTF-8、1MBまで）。職員コンソールで登録する様式ファイルと同じ形です",
        "content": {media: {"schema": {"type": "string"}} for media in BODY_TYPES},
    }
}


@router.put(
    "/procedures/{procedure_id}/definition",
    auth=_AUTH,
    response=_WRITE_RESPONSES,
    summary="独自の手続の様式を置き換える（内容が同じなら版は増えません。受付中の申請は元の版のまま）",
    openapi_extra=_BODY_DOC,
)
def replace_definition(request: HttpRequest, procedure_id: ProcedureId) -> Status[dict[str, Any]]:
    auth = _auth(request, SCOPE_DEFINITION_WRITE)
    procedure = _own(auth, procedure_id)
    if procedure.template_version_id is not None:
        raise HttpError(
            409,
            "ひな形から採用した手続の様式は置き換えられません。"
            "職員コンソールで団体の設定を変えてください。",
        )
    return _save(auth, procedure.slug, _body(request), procedure)


@router.put(
    "/procedures/by-slug/{slug}/definition",
    auth=_AUTH,
    response=_WRITE_RESPONSES,
    summary="識別子で独自の手続を登録する、またはその様式を置き換える（新しく作った手続は準備中）",
    openapi_extra=_BODY_DOC,
)
def put_definition_by_slug(request: HttpRequest, slug: Slug) -> Status[dict[str, Any]]:
    auth = _auth(request, SCOPE_DEFINITION_WRITE)
    existing = (
        procedures_of(organisation=auth.staff.organisation, published_only=False)
        .filter(slug=slug)
        .first()
    )
    return _save(auth, slug, _body(request), existing)
