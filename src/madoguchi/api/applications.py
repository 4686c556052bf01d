"""A resident's applications over HTTP: submit once (idempotently), read back one's own.

Authentication, in this order: an API token (``Authorization: Bearer mdg_…`` with the scope
``applications``), the browser session of a logged-in resident (then the CSRF token is
required, as for a form), or none at all for procedures whose identity assurance level
(``ial``) is 1. A guest proves their mailbox first, exactly as in the browser:
``POST /applications/guest-verifications/`` mails a confirmation code to the address (limited
per address and per client, 429 beyond), and the application carries that code in the
``X-Guest-Token`` header; the receipt goes to the proven address only.

Status codes of ``POST /applications/`` (each one means one thing, so that an app can act on
it without reading the message):

- 201 stored now; 200 the same submission again (same ``Idempotency-Key``): the same receipt
- 400 no or malformed ``Idempotency-Key``, unreadable JSON; 413 body over 1 MB;
  415 not ``application/json``; 422 answers or fields wrong (``errors`` by field path)
- 401 credentials missing (procedure needs an account, or a guest without ``X-Guest-Token``)
  or wrong; 403 CSRF token missing for a session, token without the scope, a guest code that
  is forged, expired, for another procedure or another address, procedure outside its
  reception period
- 404 no such published procedure; 409 the key was used for other content, or the
  procedure takes one application per person (or household, or year) and this person
  already has one (the message says which, when it is the same account);
  410 the form was revised since the client fetched it (fetch the procedure again)
- 403 with errors on ``identity``: the identity at hand does not meet the procedure's
  身元確認 / 当人認証 levels or its signature requirement; ``detail`` says what is missing and
  each error one way to get it. 422 with an error on ``signature``: the signature was
  refused (malformed, not over these answers, untrusted issuer, expired, not yet valid,
  revoked, not a signing certificate, revocation could not be checked); the message says
  which and what to do.

Level-3 procedures (My Number card): fetch the canonical bytes of the answers with
``POST /procedures/{id}/canonical`` (same body as ``answers``), sign them with the card's
signing certificate (detached CMS SignedData, SHA-256, RSA PKCS#1 v1.5, DER), and send the
signature base64-encoded as ``signature`` with the same answers.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from datetime import datetime
from typing import Annotated, Any, Final

from django.core.exceptions import RequestDataTooBig, ValidationError
from django.core.validators import validate_email
from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema, Status
from ninja.errors import AuthenticationError, HttpError
from ninja.security import APIKeyCookie, HttpBearer
from ninja.utils import check_csrf
from pydantic import Field

from madoguchi.api.schemas import ErrorOut
from madoguchi.applications.canonical import CONTENT_TYPE as CANONICAL_TYPE
from madoguchi.applications.constants import IDEMPOTENCY_KEY_PATTERN, ApplicationStatus
from madoguchi.applications.duplicate_review import DuplicateApplication
from madoguchi.applications.guests import (
    GuestNotAllowed,
    guest_code_check,
    guest_email_confirmation_send,
)
from madoguchi.applications.models import Application
from madoguchi.applications.selectors import (
    application_of_applicant,
    application_rows,
    applications_of_applicant,
)
from madoguchi.applications.services import (
    AssuranceInsufficient,
    IdempotencyConflict,
    InvalidIdempotencyKey,
    ProcedureClosed,
    SignatureInvalid,
    StaleFormVersion,
    SubmissionError,
    ValidationFailed,
    application_canonical,
    application_submit,
)
from madoguchi.catalog.models import Procedure
from madoguchi.catalog.selectors import published_procedure_get
from madoguchi.core.request import client_address
from madoguchi.core.text import parse_int
from madoguchi.core.time import now, to_tokyo
from madoguchi.identity.assurance import identity_current
from madoguchi.identity.models import User
from madoguchi.identity.tokens import SCOPE_APPLICATIONS, access_token_authenticate
from madoguchi.notifications.ratelimit import MailRateLimited

router = Router(tags=["申請"])

#: Answers are text (files are uploaded separately), so 1 MB is far beyond any real form.
MAX_BODY_BYTES: Final = 1024 * 1024
MAX_JSON_DEPTH: Final = 32
#: A JPKI signature with its certificate is a few KiB; the service refuses above 64 KiB.
MAX_SIGNATURE_BASE64: Final = 90_000
MAX_PER_PAGE: Final = 100
IDEMPOTENCY_KEY: Final = re.compile(IDEMPOTENCY_KEY_PATTERN)
#: 団体コード-年月日-番号. Checked before the look-up: PostgreSQL refuses NUL in a query (a 500).
RECEIPT_NUMBER: Final = re.compile(r"[0-9A-Za-z-]{1,32}")
_KEY_HELP: Final = (
    "送信ごとに一つ作る識別子（16〜64文字の英数字・-・_）。通信が途切れたら同じ値で送り直すと、"
    "二重に申請されず同じ受付番号が返ります。"
)


# --- Authentication ---------------------------------------------------------------------------


class ResidentToken(HttpBearer):
    """``Authorization: Bearer mdg_…``. A wrong, revoked or expired token is refused (401)
    rather than ignored, so that an app never submits as a guest by mistake."""

    def authenticate(self, request: HttpRequest, token: str) -> User:
        found = access_token_authenticate(raw=token, now=now())
        if found is None:
            raise HttpError(
                401,
                "アクセストークンが正しくないか、失効または期限切れです。新しいトークンを発行してください。",
            )
        if SCOPE_APPLICATIONS not in found.scopes or found.organisation_id is not None:
            raise HttpError(403, "このアクセストークンでは申請を扱えません。")
        return found.user


class ResidentSession(APIKeyCookie):
    """The session of a resident logged in to the portal. A write must carry the CSRF token
    (cookie + ``X-CSRFToken`` header), exactly as a form post does."""

    param_name = "sessionid"

    def _get_key(self, request: HttpRequest) -> str | None:
        # django-ninja checks CSRF before it knows whether anyone is logged in, which would
        # refuse guests that have no CSRF cookie; only a logged-in session needs the check.
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        if check_csrf(request) is not None:
            raise HttpError(
                403,
                "CSRF トークンがありません。画面を再読み込みしてから、もう一度送信してください。",
            )
        return request.COOKIES.get(self.param_name, "")

    def authenticate(self, request: HttpRequest, key: str | None) -> User | None:
        if key is None:
            return None
        user: User = request.user  # type: ignore[assignment]
        return user


class _Guest:
    """Nobody logged in. Truthy, so that django-ninja lets the request through; the view
    decides whether the procedure accepts guests."""

    def __bool__(self) -> bool:
        return True


GUEST: Final = _Guest()


def guest(request: HttpRequest) -> _Guest:
    return GUEST


def _applicant(request: HttpRequest) -> User | None:
    auth = getattr(request, "auth", None)
    return auth if isinstance(auth, User) else None


def _resident(request: HttpRequest) -> User:
    """The resident an endpoint without guest access was authenticated as; refused with the
    usual 401 if none (its auth classes let only a resident through)."""
    applicant = _applicant(request)
    if applicant is None:
        raise AuthenticationError
    return applicant


# --- Schemas ----------------------------------------------------------------------------------


class ProcedureRef(Schema):
    id: int
    name: str


class OrganisationRef(Schema):
    lg_code: str
    name: str


class SignatureOut(Schema):
    signer: str = Field(description="署名者（署名用電子証明書の氏名）")
    verified_at: datetime = Field(description="検証日時（日本時間）")
    revocation: str = Field(description="失効確認の方法")
    mismatches: list[str] = Field(description="証明書の基本4情報と回答が違う項目")


class ApplicationOut(Schema):
    receipt_number: str = Field(description="受付番号")
    arrived_at: datetime = Field(description="到達日時（日本時間）")
    status: str
    status_label: str
    procedure: ProcedureRef
    organisation: OrganisationRef
    ial: int = Field(description="満たした身元確認レベル（1〜3）")
    aal: int = Field(description="満たした当人認証レベル（1〜3）")
    signature: SignatureOut | None = Field(None, description="マイナンバーカードによる電子署名")


class AnswerRow(Schema):
    step: str
    label: str
    value: str = Field(description="表示用の値。個人番号は伏せ字")


class ApplicationDetailOut(ApplicationOut):
    revision: int
    answers_digest: str = Field(description="申請データの SHA-256")
    answers: list[AnswerRow]


class ApplicationPage(Schema):
    count: int
    page: int
    per_page: int
    pages: int
    results: list[ApplicationOut]


class SubmitIn(Schema):
    """Documented here; the body is parsed by hand so that hostile JSON gets a clear answer."""

    procedure: int = Field(description="手続の id（/api/v1/procedures/{id}/）")
    answers: dict[str, Any] = Field(description="項目の key → 値")
    form_version: int | None = Field(
        None, description="回答を作ったときの様式の版。違えば 410 を返します"
    )
    contact_email: str | None = Field(
        None,
        description="連絡先メールアドレス。アカウントなしの申請（ial 1）で、確認したアドレス。"
        "ログインしての申請では指定しません（受付のメールはアカウントのアドレスへ）",
    )
    signature: str | None = Field(
        None,
        description="マイナンバーカードの署名用電子証明書による署名（base64 の DER、"
        "detached CMS SignedData）。POST /procedures/{id}/canonical が返すバイト列に対するもの",
    )


class CanonicalIn(Schema):
    answers: dict[str, Any] = Field(description="項目の key → 値（申請と同じもの）")


def _signature_out(application: Application) -> dict[str, Any] | None:
    # Read through .all() so that a list prefetches them (one query for the page).
    signatures = sorted(application.signatures.all(), key=lambda s: s.revision)
    if not signatures:
        return None
    signature = signatures[-1]
    return {
        "signer": signature.signer_name,
        "verified_at": to_tokyo(signature.verified_at),
        "revocation": signature.revocation,
        "mismatches": [str(m.get("label", "")) for m in signature.mismatches or []],
    }


def application_out(application: Application) -> dict[str, Any]:
    return {
        "ial": application.ial,
        "aal": application.aal,
        "signature": _signature_out(application),
        "receipt_number": application.receipt_number,
        "arrived_at": to_tokyo(application.arrived_at),
        "status": application.status,
        "status_label": ApplicationStatus(application.status).label,
        "procedure": {"id": application.procedure_id, "name": application.procedure.name},
        "organisation": {
            "lg_code": application.organisation.lg_code,
            "name": application.organisation.name,
        },
    }


# --- Reading the request ----------------------------------------------------------------------


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


def _idempotency_key(request: HttpRequest) -> str:
    key = request.headers.get("Idempotency-Key", "")
    if not key:
        raise HttpError(400, "Idempotency-Key ヘッダーが必要です。" + _KEY_HELP)
    if not isinstance(key, str) or not IDEMPOTENCY_KEY.fullmatch(key):
        raise HttpError(400, "Idempotency-Key の形式が正しくありません。" + _KEY_HELP)
    return key


class _NotANumber(Exception):
    """JSON ``Infinity``, ``-Infinity`` or ``NaN``: Python reads them, JSON does not have them."""


def _no_constant(name: str) -> Any:
    raise _NotANumber(name)


def _json_body(request: HttpRequest) -> dict[str, Any]:
    content_type = request.content_type or ""
    if content_type.lower() != "application/json":
        raise HttpError(415, "本文は JSON（Content-Type: application/json）で送ってください。")
    length = parse_int(request.headers.get("Content-Length", ""))
    if length is not None and length > MAX_BODY_BYTES:
        raise HttpError(413, "リクエストが大きすぎます（1MBまで）。")
    try:
        raw: bytes | None = request.body
    except RequestDataTooBig:  # beyond DATA_UPLOAD_MAX_MEMORY_SIZE, Django will not read it
        raw = None
    if raw is None or len(raw) > MAX_BODY_BYTES:
        raise HttpError(413, "リクエストが大きすぎます（1MBまで）。")
    try:
        body = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except _NotANumber:
        raise HttpError(
            400, "JSONとして読めません（Infinity や NaN は数値として使えません）。"
        ) from None
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise HttpError(400, "JSONとして読めません。") from None
    if not isinstance(body, dict):
        raise HttpError(
            422, '本文は {"procedure": 手続のid, "answers": {項目: 値}} の形で送ってください。'
        )
    if _depth(body, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
        raise HttpError(422, "回答の入れ子が深すぎます。")
    try:
        # "\ud800" is valid JSON but no character: it could be neither stored nor sent back.
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise HttpError(
            400, "JSONとして読めません（文字として使えないコードが含まれています）。"
        ) from None
    return body


def _field_errors(errors: dict[str, str], status: int = 422) -> Status[dict[str, Any]]:
    return Status(
        status,
        {
            "detail": "リクエストの値に誤りがあります。",
            "errors": [{"field": field, "message": message} for field, message in errors.items()],
        },
    )


class _Invalid(Exception):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("invalid")
        self.errors = errors


def _signature(body: dict[str, Any], errors: dict[str, str]) -> bytes | None:
    raw = body.get("signature")
    if raw is None:
        return None
    if not isinstance(raw, str) or not raw.strip():
        errors["signature"] = "署名は base64 の文字列で送ってください。"
        return None
    if len(raw) > MAX_SIGNATURE_BASE64:
        errors["signature"] = "署名が大きすぎます。マイナンバーカードで作った署名を送ってください。"
        return None
    try:
        return base64.b64decode(raw.strip(), validate=True)
    except (binascii.Error, ValueError):
        errors["signature"] = "署名を base64 として読めません。"
        return None


def _submission(
    body: dict[str, Any],
) -> tuple[int, dict[str, Any], int | None, str, bytes | None]:
    """(procedure id, answers, form version, contact e-mail, signature); raises _Invalid
    (422)."""
    errors: dict[str, str] = {}
    procedure_id: Any = body.get("procedure")
    if type(procedure_id) is not int or not 1 <= procedure_id < 2**63:
        errors["procedure"] = "手続の id（整数）を指定してください。"
    answers: Any = body.get("answers")
    if not isinstance(answers, dict):
        errors["answers"] = "回答はオブジェクト（項目名: 値）の形で送ってください。"
    version: Any = body.get("form_version")
    if version is not None and (type(version) is not int or not 1 <= version < 2**31):
        errors["form_version"] = "様式の版は整数で指定してください。"
    email = body.get("contact_email") or ""
    if not isinstance(email, str):
        errors["contact_email"] = "メールアドレスを文字列で指定してください。"
    elif email:
        try:
            validate_email(email)
        except ValidationError:
            errors["contact_email"] = "メールアドレスの形式が正しくありません。"
    signature = _signature(body, errors)
    known = {"procedure", "answers", "form_version", "contact_email", "signature"}
    unknown = sorted(set(body) - known)
    for key in unknown[:20]:
        errors[str(key)[:100]] = "指定できない項目です。"
    if errors:
        raise _Invalid(errors)
    return procedure_id, answers, version, str(email), signature


# --- Endpoints --------------------------------------------------------------------------------

_ERRORS = dict.fromkeys((400, 401, 403, 404, 409, 410, 413, 415, 422), ErrorOut)


@router.post(
    "/applications/",
    auth=[ResidentToken(), ResidentSession(), guest],
    response={201: ApplicationOut, 200: ApplicationOut, **_ERRORS},
    summary="申請する（冪等: 同じ Idempotency-Key なら同じ受付番号）",
    description=__doc__.split("\n\n", 1)[1] if __doc__ else "",
    openapi_extra={
        "parameters": [
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": True,
                "schema": {"type": "string", "pattern": IDEMPOTENCY_KEY_PATTERN},
                "description": _KEY_HELP,
            }
        ],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": SubmitIn.model_json_schema()}},
        },
    },
)
def submit_application(request: HttpRequest) -> Status[dict[str, Any]]:
    key = _idempotency_key(request)
    body = _json_body(request)
    try:
        procedure_id, answers, version, email, signature = _submission(body)
    except _Invalid as invalid:
        return _field_errors(invalid.errors)
    try:
        procedure = published_procedure_get(procedure_id=procedure_id)
    except Procedure.DoesNotExist:
        raise HttpError(
            404, "その手続は見つかりません（公開されていないか、受付を終了しています）。"
        ) from None
    applicant = _applicant(request)
    if applicant is None:
        if procedure.ial >= 2 and signature is None:
            raise HttpError(
                401,
                "この手続の申請にはログインが必要です（本人確認のため）。ログインしてください。",
            )
        email = _guest_proof(request, procedure, email)
    elif email and email.casefold() != applicant.email.casefold():
        raise HttpError(
            422,
            "ログインしての申請では、受付のメールはアカウントのメールアドレスに送ります。"
            "contact_email は指定しないでください。",
        )
    # The client names the version it filled in by its number (as GET /procedures/{id}/
    # shows it); the service compares ids, and 0 is no id, so any other number is stale.
    version_id = None
    if version is not None:
        version_id = procedure.form_version_id if version == procedure.form_version.version else 0
    try:
        result = application_submit(
            organisation=procedure.organisation,
            procedure=procedure,
            applicant=applicant,
            answers=answers,
            idempotency_key=key,
            now=now(),
            form_version_id=version_id,
            contact_email=email,
            identity=identity_current(user=applicant, session=_session_of(request, applicant)),
            signature=signature,
            signature_via="api",
        )
    except ValidationFailed as failed:
        return _field_errors(
            {f"answers.{k}" if k else "answers": v for k, v in failed.errors.items()}
        )
    except AssuranceInsufficient as short:
        return Status(
            403,
            {
                "detail": str(short),
                "errors": [
                    {"field": "identity", "message": remedy} for remedy in short.shortfall.remedies
                ],
            },
        )
    except DuplicateApplication as error:
        raise HttpError(409, str(error)) from None
    except SignatureInvalid as refused:
        return Status(
            422,
            {
                "detail": str(refused),
                "errors": [{"field": "signature", "message": str(refused)}],
            },
        )
    except IdempotencyConflict as error:
        raise HttpError(409, str(error)) from None
    except StaleFormVersion as error:
        raise HttpError(410, str(error)) from None
    except ProcedureClosed as error:
        raise HttpError(403, str(error)) from None
    except InvalidIdempotencyKey as error:
        raise HttpError(400, str(error)) from None
    except SubmissionError as error:
        raise HttpError(422, str(error)) from None
    return Status(201 if result.created else 200, application_out(result.application))


@router.post(
    "/procedures/{procedure_id}/canonical",
    auth=[ResidentToken(), ResidentSession(), guest],
    response={200: None, **_ERRORS},
    summary="署名するバイト列（申請データの正規形）",
    description=(
        "回答（answers）を検証し、マイナンバーカードで署名する正規形のバイト列"
        "（UTF-8 の JSON、キーは辞書順、空白なし）をそのまま返します。"
        "このバイト列に対する detached CMS 署名を、申請の signature に付けて送ります。"
    ),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": CanonicalIn.model_json_schema()}},
        },
        # An int key, as in ``response=``: a "200" string key beside ninja's 200 would be
        # written twice into the JSON, and Swagger UI refuses a duplicated key.
        "responses": {
            200: {
                "description": "署名するバイト列",
                "content": {"application/json": {"schema": {"type": "object"}}},
            }
        },
    },
)
def canonical(request: HttpRequest, procedure_id: int) -> HttpResponse | Status[dict[str, Any]]:
    body = _json_body(request)
    answers = body.get("answers")
    errors: dict[str, str] = {}
    if not isinstance(answers, dict):
        errors["answers"] = "回答はオブジェクト（項目名: 値）の形で送ってください。"
    for key in sorted(set(body) - {"answers"})[:20]:
        errors[str(key)[:100]] = "指定できない項目です。"
    if errors or not isinstance(answers, dict):
        return _field_errors(errors)
    try:
        procedure = published_procedure_get(procedure_id=procedure_id)
    except Procedure.DoesNotExist:
        raise HttpError(
            404, "その手続は見つかりません（公開されていないか、受付を終了しています）。"
        ) from None
    try:
        content = application_canonical(
            organisation=procedure.organisation,
            procedure=procedure,
            applicant=_applicant(request),
            answers=answers,
            now=now(),
        )
    except ValidationFailed as failed:
        return _field_errors(
            {f"answers.{k}" if k else "answers": v for k, v in failed.errors.items()}
        )
    return HttpResponse(content, content_type=CANONICAL_TYPE)


def _session_of(request: HttpRequest, applicant: User | None) -> Any:
    """The portal session when the resident is logged in through it (what its login proved
    counts); None for a token, whose holder proved only the password behind the token."""
    if applicant is None or getattr(request, "user", None) != applicant:
        return None
    return request.session


# --- Guests prove their mailbox first ---------------------------------------------------------

GUEST_TOKEN_HEADER: Final = "X-Guest-Token"  # noqa: S105 (a header name)
_GUEST_HELP: Final = (
    "アカウントなしで申請するには、先にメールアドレスの確認が必要です。"
    "POST /api/v1/applications/guest-verifications/ で確認コードをメールで受け取り、"
    f"申請の {GUEST_TOKEN_HEADER} ヘッダーに付けて送ってください。"
)


def _guest_proof(request: HttpRequest, procedure: Procedure, email: str) -> str:
    """The proven contact address of a guest; 401 without a code, 403 with a wrong one."""
    code = request.headers.get(GUEST_TOKEN_HEADER, "")
    if not code:
        raise HttpError(401, _GUEST_HELP)
    proven = guest_code_check(procedure=procedure, code=code)
    if proven is None:
        raise HttpError(
            403,
            "メールアドレスの確認コードが正しくないか、期限切れか、別の手続のものです。"
            "確認コードをもう一度受け取ってください。",
        )
    if email and email.casefold() != proven.casefold():
        raise HttpError(
            403,
            "contact_email が、確認したメールアドレスと違います。確認したアドレスで送ってください。",
        )
    return proven


class GuestVerificationIn(Schema):
    procedure: int = Field(description="手続の id（アカウントなしで申請できる ial 1 の手続）")
    email: str = Field(description="確認コードを送るメールアドレス")


class MessageOut(Schema):
    detail: str


@router.post(
    "/applications/guest-verifications/",
    auth=None,
    response={202: MessageOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut, 429: MessageOut},
    summary="アカウントなしで申請する前に、メールアドレスの確認コードを受け取る",
    description=(
        f"確認コードをメールで送ります。申請の {GUEST_TOKEN_HEADER} ヘッダーに付けてください"
        "（24時間有効、この手続とこのアドレスだけに使えます）。送信回数には、同じアドレスへ・同じ"
        "接続元からの上限があり、超えると 429 と Retry-After（秒）を返します。"
    ),
)
def request_guest_verification(
    request: HttpRequest, body: GuestVerificationIn, response: HttpResponse
) -> Status[dict[str, Any]]:
    email = body.email.strip()
    try:
        if len(email) > 254:
            raise ValidationError("too long")
        validate_email(email)
    except ValidationError:
        return _field_errors({"email": "メールアドレスの形式が正しくありません。"})
    if not 1 <= body.procedure < 2**63:
        raise HttpError(
            404, "その手続は見つかりません（公開されていないか、受付を終了しています）。"
        )
    try:
        procedure = published_procedure_get(procedure_id=body.procedure)
    except Procedure.DoesNotExist:
        raise HttpError(
            404, "その手続は見つかりません（公開されていないか、受付を終了しています）。"
        ) from None
    try:
        guest_email_confirmation_send(
            procedure=procedure,
            email=email,
            now=now(),
            client_address=client_address(request) or "",
        )
    except GuestNotAllowed as error:
        raise HttpError(403, str(error)) from None
    except MailRateLimited as limited:
        response["Retry-After"] = str(limited.retry_after_seconds)
        return Status(429, {"detail": str(limited)})
    return Status(
        202,
        {
            "detail": "確認コードをメールで送りました。届いたコードを X-Guest-Token ヘッダーに付けて申請してください。"
        },
    )


class PageQuery(Schema):
    page: Annotated[int, Field(1, ge=1, le=100_000)] = 1
    per_page: Annotated[int, Field(20, ge=1, le=MAX_PER_PAGE)] = 20


@router.get(
    "/applications/",
    auth=[ResidentToken(), ResidentSession()],
    response={200: ApplicationPage, 401: ErrorOut, 403: ErrorOut, 422: ErrorOut},
    summary="自分の申請の一覧（新しい順）",
)
def list_applications(request: HttpRequest, query: Query[PageQuery]) -> dict[str, Any]:
    applicant = _resident(request)
    qs = applications_of_applicant(applicant=applicant)
    count = qs.count()
    start = (query.page - 1) * query.per_page
    rows = list(qs[start : start + query.per_page])
    return {
        "count": count,
        "page": query.page,
        "per_page": query.per_page,
        "pages": max(1, math.ceil(count / query.per_page)),
        "results": [application_out(application) for application in rows],
    }


@router.get(
    "/applications/{receipt_number}/",
    auth=[ResidentToken(), ResidentSession(), guest],
    response={200: ApplicationDetailOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut},
    summary="自分の申請（受付番号）。他人の申請は 404",
)
def get_application(request: HttpRequest, receipt_number: str) -> dict[str, Any]:
    applicant = _applicant(request)
    try:
        if applicant is None or not RECEIPT_NUMBER.fullmatch(receipt_number):
            raise Application.DoesNotExist
        application = application_of_applicant(applicant=applicant, receipt_number=receipt_number)
    except Application.DoesNotExist:
        raise HttpError(404, "その受付番号の申請は見つかりません。") from None
    data = application_out(application)
    data["revision"] = application.revision
    data["answers_digest"] = application.answers_digest
    data["answers"] = [
        {"step": step, "label": label, "value": value}
        for step, label, value in application_rows(application)
    ]
    return data
