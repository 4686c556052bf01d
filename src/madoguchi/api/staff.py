"""The staff API: an organisation's systems list, fetch and move its applications.

Authentication: ``Authorization: Bearer mdg_…`` with a token that an organisation admin
issued in the console (職員コンソール → APIトークン). The token acts for that organisation
only, and only while the person who issued it is active staff there. Scopes:
``applications:read`` (lists, details, procedures) and ``applications:write`` (transitions).
Only organisation admins hold working tokens: a token ends for good when its owner is
disabled or changes role.

Moves go through the same services as the console (:mod:`madoguchi.applications.review`),
with the same checks and the same records: only admins and the procedure's assigned reviewers
may move an application; for a procedure with sign-off (決裁), 承認・却下 are proposed
(起案) through the same service as in the console and take effect when other staff with the
sign-off role sign them off in the console (the answer's ``signoff`` says so); otherwise
承認・却下 issue the 決定通知書, tell the applicant on my page and by
mail, and are audited and sent to webhooks exactly as from the console; a rejection needs a
``reason``; a correction request (補正依頼) names the answers to correct in ``fields`` and
what to do in ``reason``.

Status codes: 401 no, wrong, revoked or expired token (or its owner is no longer staff);
403 the token lacks the scope (or is a resident's token), or its owner may not move this
procedure's applications; 404 no such application *of this organisation* — another
organisation's id answers exactly as a missing one; 409 the move is not allowed now, or the
application changed since ``expected_status``; 422 invalid input.

Field names are stable (core systems map them once). My Number and other 特定個人情報 are
masked in every answer and never decrypted here; each read of an application is an audit
event (``application.viewed``, channel ``api``), as in the console.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Final

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest
from ninja import Path, Query, Router, Schema
from ninja.errors import HttpError, ValidationError
from ninja.security import HttpBearer
from pydantic import Field
from pydantic import ValidationError as PydanticValidationError

from madoguchi.api.schemas import ErrorOut
from madoguchi.applications.constants import ApplicationStatus
from madoguchi.applications.inbox import InboxFilters, InvalidCursor, inbox_page
from madoguchi.applications.models import Application
from madoguchi.applications.review import (
    InputRefused,
    NotAllowed,
    StaleStatus,
    TransitionRefused,
    application_status_change,
    application_view_record,
    applications_list_record,
)
from madoguchi.applications.selectors import (
    application_masked_answers,
    application_rows,
    staff_allowed_targets,
)
from madoguchi.applications.signoff import proposal_open
from madoguchi.catalog.selectors import procedures_of
from madoguchi.core.time import TOKYO, now, to_tokyo
from madoguchi.documents.certificate import DAMAGE_LEVELS
from madoguchi.documents.seal import SealError
from madoguchi.identity.models import AccessToken, Staff
from madoguchi.integrations.selectors import staff_application_get
from madoguchi.integrations.tokens import (
    SCOPE_READ,
    SCOPE_WRITE,
    TokenRefused,
    staff_token_authenticate,
)

router = Router(tags=["職員API"])

MAX_LIMIT: Final = 200
MAX_BODY_BYTES: Final = 64 * 1024
MAX_ID: Final = 2**63 - 1
#: Outside these years a date is a typo (or an attack on date arithmetic), not a filter.
YEARS: Final = range(1900, 3000)


# --- Authentication ---------------------------------------------------------------------------


@dataclass(frozen=True)
class StaffAuth:
    token: AccessToken
    staff: Staff

    @property
    def label(self) -> str:
        return f"APIトークン {self.token.prefix}"


class StaffToken(HttpBearer):
    """A staff token of an organisation whose owner is active staff of that organisation."""

    def authenticate(self, request: HttpRequest, token: str) -> StaffAuth:
        try:
            found, staff = staff_token_authenticate(raw=token, now=now())
        except TokenRefused as refused:
            raise HttpError(refused.status, refused.message) from None
        return StaffAuth(token=found, staff=staff)


def _auth(request: HttpRequest, scope: str) -> StaffAuth:
    auth = request.auth  # type: ignore[attr-defined]
    assert isinstance(auth, StaffAuth)
    if scope not in auth.token.scopes:
        raise HttpError(403, f"このアクセストークンには {scope} の権限がありません。")
    return auth


# --- Schemas ----------------------------------------------------------------------------------


class ProcedureRef(Schema):
    id: int
    name: str


class StaffApplicationOut(Schema):
    id: int
    receipt_number: str = Field(description="受付番号")
    organisation: str = Field(description="団体コード（6桁）")
    procedure: ProcedureRef
    status: str = Field(description="状態: " + ", ".join(ApplicationStatus.values))
    status_label: str
    channel: str
    revision: int = Field(description="補正のたびに増える版")
    arrived_at: datetime = Field(description="到達日時（日本時間）")
    due_at: datetime | None = Field(description="標準処理期間による処理期限（日本時間）")
    updated_at: datetime


class SignoffOut(Schema):
    state: str = Field(description="pending（決裁待ち）")
    outcome: str = Field(description="起案した決定: approve / reject")
    steps_required: int = Field(description="必要な決裁の段階数")
    steps_done: int = Field(description="決裁済みの段階数")


class StaffTransitionOut(StaffApplicationOut):
    signoff: SignoffOut | None = Field(
        None,
        description=(
            "決裁が必要な手続で承認・却下を求めたとき: 決定は起案され、状態は決裁が済むまで"
            "変わりません（決裁は職員コンソールで、起案者以外の決裁権者が行います）。"
        ),
    )


class StaffApplicationPage(Schema):
    results: list[StaffApplicationOut]
    next_cursor: str | None = Field(
        description="次のページの cursor。null なら最後のページ（件数の合計は返しません）"
    )


class AnswerRow(Schema):
    step: str
    label: str
    value: str = Field(description="表示用の値。個人番号などは伏せ字")


class StaffApplicationDetail(StaffApplicationOut):
    form_version: int = Field(description="申請に使われた様式の版")
    answers_digest: str = Field(description="申請データの SHA-256")
    answers: dict[str, Any] = Field(
        description="項目の key → 値。個人番号などの特定個人情報は伏せ字の文字列"
    )
    answer_rows: list[AnswerRow]
    allowed_transitions: list[str] = Field(description="職員が今この申請を動かせる状態")


class TransitionIn(Schema):
    to: Annotated[str, Field(max_length=32, description="移動先の状態")]
    expected_status: Annotated[
        str,
        Field(max_length=32, description="取得したときの状態。違えば 409（ほかの操作が先）"),
    ]
    reason: Annotated[
        str,
        Field(
            max_length=2000,
            description="理由。却下では必須。補正依頼（correction_requested）では申請者に伝える補正の内容",
        ),
    ] = ""
    fields: list[Annotated[str, Field(max_length=64)]] = Field(
        default_factory=list,
        max_length=200,
        description="補正依頼で直してほしい項目の key（correction_requested のときだけ、1つ以上）",
    )
    damage_level: Annotated[
        str,
        Field(
            max_length=32,
            description="被害の程度（罹災証明書を交付する手続の承認では必須）: "
            + "、".join(DAMAGE_LEVELS),
        ),
    ] = ""


class StaffProcedureOut(Schema):
    id: int
    slug: str
    name: str
    status: str
    form_version: int
    retention_years: int
    processing_days: int | None


class ListQuery(Schema):
    procedure: Annotated[int | None, Field(None, ge=1, le=MAX_ID, description="手続の id")] = None
    status: Annotated[
        str | None,
        Field(None, max_length=32, description="状態: " + ", ".join(ApplicationStatus.values)),
    ] = None
    arrived_after: Annotated[
        datetime | None,
        Field(None, description="この日時以降に到達（時差がなければ日本時間）"),
    ] = None
    arrived_before: Annotated[datetime | None, Field(None, description="この日時より前に到達")] = (
        None
    )
    cursor: Annotated[
        str | None, Field(None, max_length=200, description="前のページの next_cursor")
    ] = None
    limit: Annotated[int, Field(50, ge=1, le=MAX_LIMIT)] = 50


def _summary(application: Application) -> dict[str, Any]:
    return {
        "id": application.pk,
        "receipt_number": application.receipt_number,
        "organisation": application.organisation.lg_code,
        "procedure": {"id": application.procedure_id, "name": application.procedure.name},
        "status": application.status,
        "status_label": ApplicationStatus(application.status).label,
        "channel": application.channel,
        "revision": application.revision,
        "arrived_at": to_tokyo(application.arrived_at),
        "due_at": to_tokyo(application.due_at) if application.due_at else None,
        "updated_at": to_tokyo(application.updated_at),
    }


def _instant(value: datetime | None, field: str) -> datetime | None:
    if value is None:
        return None
    if value.year not in YEARS:
        raise HttpError(422, f"{field} は1900年から2999年までの日時で指定してください。")
    return value if value.tzinfo is not None else value.replace(tzinfo=TOKYO)


def _application(auth: StaffAuth, application_id: int) -> Application:
    try:
        return staff_application_get(
            organisation=auth.staff.organisation, application_id=application_id
        )
    except Application.DoesNotExist:
        raise HttpError(404, "その申請は見つかりません。") from None


def _transition_body(request: HttpRequest) -> TransitionIn:
    """The JSON body, read by hand so that unreadable input gets a Japanese answer."""
    try:
        raw: bytes | None = request.body
    except RequestDataTooBig:
        raw = None
    if raw is None or len(raw) > MAX_BODY_BYTES:
        raise HttpError(413, "リクエストが大きすぎます（64KBまで）。")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise HttpError(400, "本文を JSON として読めません。") from None
    if not isinstance(data, dict):
        raise HttpError(
            422,
            '本文は {"to": 移動先の状態, "expected_status": 取得したときの状態, "reason": 理由} '
            "の形で送ってください。",
        )
    try:
        return TransitionIn.model_validate(data)
    except PydanticValidationError as error:
        raise ValidationError(
            [
                {"loc": item["loc"], "type": item["type"], "msg": item["msg"]}
                for item in error.errors()
            ]
        ) from None


ApplicationId = Annotated[int, Path(ge=1, le=MAX_ID, description="申請の id")]


# --- Endpoints --------------------------------------------------------------------------------

_AUTH = [StaffToken()]
_ERRORS: Final = dict.fromkeys((401, 403, 422), ErrorOut)
_BODY_ERRORS: Final = dict.fromkeys((400, 413), ErrorOut)


@router.get(
    "/applications/",
    auth=_AUTH,
    response={200: StaffApplicationPage, **_ERRORS},
    summary="団体の申請の一覧（到達の新しい順、cursor でページ送り）",
)
def list_applications(request: HttpRequest, query: Query[ListQuery]) -> dict[str, Any]:
    auth = _auth(request, SCOPE_READ)
    if query.status is not None and query.status not in ApplicationStatus.values:
        raise HttpError(
            422,
            "status は " + "、".join(ApplicationStatus.values) + " のいずれかで指定してください。",
        )
    organisation = auth.staff.organisation
    when = now()
    filters = InboxFilters(
        procedure_id=query.procedure,
        statuses=(query.status,) if query.status is not None else (),
        arrived_after=_instant(query.arrived_after, "arrived_after"),
        arrived_before=_instant(query.arrived_before, "arrived_before"),
        sort="newest",
        live_only=True,
    )
    page = inbox_page(
        organisation=organisation, filters=filters, now=when, after=query.cursor, limit=query.limit
    )
    if page.cursor_rejected:
        raise HttpError(422, str(InvalidCursor()))
    rows = [row.application for row in page.rows]
    for application in rows:
        application.organisation = organisation
    # A list names receipts and statuses, not answers: one event for the page.
    applications_list_record(
        organisation=organisation,
        staff=auth.staff,
        applications=rows,
        now=when,
        channel="api",
        actor_label=auth.label,
    )
    return {
        "results": [_summary(application) for application in rows],
        "next_cursor": page.next_cursor,
    }


@router.get(
    "/applications/{application_id}/",
    auth=_AUTH,
    response={200: StaffApplicationDetail, 404: ErrorOut, **_ERRORS},
    summary="申請の内容（個人番号は伏せ字）。閲覧は監査記録に残ります",
)
def get_application(request: HttpRequest, application_id: ApplicationId) -> dict[str, Any]:
    auth = _auth(request, SCOPE_READ)
    application = _application(auth, application_id)
    application_view_record(
        organisation=auth.staff.organisation,
        application=application,
        staff=auth.staff,
        now=now(),
        channel="api",
        actor_label=auth.label,
        token_prefix=auth.token.prefix,
    )
    data = _summary(application)
    data.update(
        form_version=application.form_version.version,
        answers_digest=application.answers_digest,
        answers=application_masked_answers(application),
        answer_rows=[
            {"step": step, "label": label, "value": value}
            for step, label, value in application_rows(application)
        ],
        allowed_transitions=staff_allowed_targets(application),
    )
    return data


@router.post(
    "/applications/{application_id}/transitions",
    auth=_AUTH,
    response={
        200: StaffTransitionOut,
        404: ErrorOut,
        409: ErrorOut,
        503: ErrorOut,
        **_BODY_ERRORS,
        **_ERRORS,
    },
    summary="申請の状態を変える（expected_status が今の状態と違えば 409。決裁が必要な手続の承認・却下は起案になる）",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": TransitionIn.model_json_schema()}},
        }
    },
)
def transition_application(request: HttpRequest, application_id: ApplicationId) -> dict[str, Any]:
    auth = _auth(request, SCOPE_WRITE)
    body = _transition_body(request)
    statuses = "、".join(ApplicationStatus.values)
    if body.to not in ApplicationStatus.values:
        raise HttpError(422, f"to は {statuses} のいずれかで指定してください。")
    if body.expected_status not in ApplicationStatus.values:
        raise HttpError(422, f"expected_status は {statuses} のいずれかで指定してください。")
    application = _application(auth, application_id)
    try:
        moved = application_status_change(
            organisation=auth.staff.organisation,
            application=application,
            staff=auth.staff,
            to_status=body.to,
            expected_status=body.expected_status,
            reason=body.reason,
            fields=body.fields,
            now=now(),
            damage_level=body.damage_level,
        )
    except NotAllowed as error:
        raise HttpError(403, _text(error)) from None
    except InputRefused as error:
        raise HttpError(422, _text(error)) from None
    except (StaleStatus, TransitionRefused) as error:
        raise HttpError(409, _text(error)) from None
    except Application.DoesNotExist:
        raise HttpError(404, "その申請は見つかりません。") from None
    except SealError as error:  # the seal or the timestamp authority is away: nothing issued
        raise HttpError(503, _text(error)) from None
    moved.organisation = auth.staff.organisation
    data = _summary(moved)
    proposal = proposal_open(moved)
    data["signoff"] = (
        {
            "state": proposal.state,
            "outcome": proposal.outcome,
            "steps_required": proposal.steps_required,
            "steps_done": proposal.steps_done,
        }
        if proposal is not None
        else None
    )
    return data


def _text(error: Exception) -> str:
    return str(error.args[0]) if error.args else str(error)


@router.get(
    "/procedures/",
    auth=_AUTH,
    response={200: list[StaffProcedureOut], **_ERRORS},
    summary="団体の手続（公開前のものも含む）",
)
def list_procedures(request: HttpRequest) -> list[dict[str, Any]]:
    auth = _auth(request, SCOPE_READ)
    return [
        {
            "id": p.pk,
            "slug": p.slug,
            "name": p.name,
            "status": p.status,
            "form_version": p.form_version.version,
            "retention_years": p.retention_years,
            "processing_days": p.processing_days,
        }
        for p in procedures_of(organisation=auth.staff.organisation, published_only=False)
    ]
