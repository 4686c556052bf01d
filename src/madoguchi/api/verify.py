"""Public verification of issued documents over HTTP: ``GET /api/v1/verify/{code}``.

The same facts as the page ``/verify/<code>`` (:mod:`madoguchi.portal.views_verify`), as
JSON: issuer, the document's own name (``name``, e.g. 罹災証明書), kind, number, issue date (和暦 and ISO), status with its reason and the
successor's code, the SHA-256 of the PDF as issued and the register entry. No personal data.
No authentication; limited per client address (429 with ``Retry-After``). A code that does
not exist answers 404 and says nothing else.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Router, Schema, Status

from madoguchi.api.schemas import ErrorOut
from madoguchi.core.request import client_address
from madoguchi.core.time import now, to_tokyo
from madoguchi.documents.codes import verify_url
from madoguchi.documents.ratelimit import verify_lookup_admit, wait_text
from madoguchi.documents.selectors import document_public_facts, document_public_get
from madoguchi.forms.japanese import wareki

router = Router(tags=["文書の検証"])

NOT_FOUND = "その照合番号の文書は見つかりません。文書に印刷されている照合番号を確かめてください。"


class RegisterOut(Schema):
    #: The entry's number in the organisation's register (1, 2, …).
    seq: int
    entry_hash: str
    #: The first published daily head that covers the entry; null until the next publication.
    head_day: date | None
    head_length: int | None
    head: str | None


class VerifyOut(Schema):
    code: str
    verify_url: str
    organisation_lg_code: str
    organisation_name: str
    issuer: str
    kind: str
    kind_label: str
    #: The document's own name as printed (e.g. 罹災証明書).
    name: str
    number: str
    issued_at: datetime
    issued_on_wareki: str
    status: str
    status_label: str
    status_reason: str
    status_changed_at: datetime | None
    successor_code: str | None
    successor_url: str | None
    #: The notices this corrected one replaces (their 照合番号).
    replaces_codes: list[str]
    sha256: str
    sealed_by: str
    timestamped: bool
    purged: bool
    register_entry: RegisterOut | None


@router.get(
    "/verify/{code}",
    auth=None,
    response={200: VerifyOut, 404: ErrorOut, 429: ErrorOut},
    summary="発行文書の検証（照合番号で、ログイン不要）",
    description=(
        "文書に印刷された照合番号（大文字・小文字、全角、ハイフンの有無は問いません）の文書の、"
        "発行者・種類・番号・発行日・状態（valid 有効 / withdrawn 取消し / superseded 訂正による"
        "差替え）・発行時のPDFのSHA-256・台帳の記載を返します。個人の情報は含みません。"
        "接続元ごとの回数の上限を超えると 429 と Retry-After（秒）を返します。"
    ),
)
def verify_document(request: HttpRequest, code: str, response: HttpResponse) -> Status[Any]:
    wait = verify_lookup_admit(client_address=client_address(request), now=now())
    if wait is not None:
        response["Retry-After"] = str(wait)
        return Status(429, {"detail": wait_text(wait)})
    document = document_public_get(code)
    if document is None:
        return Status(404, {"detail": NOT_FOUND})
    facts = document_public_facts(document)
    inclusion = facts.inclusion
    return Status(
        200,
        {
            "code": facts.code,
            "verify_url": verify_url(facts.code),
            "organisation_lg_code": facts.organisation_lg_code,
            "organisation_name": facts.organisation_name,
            "issuer": facts.issuer,
            "kind": facts.kind,
            "kind_label": facts.kind_label,
            "name": facts.title_label,
            "number": facts.number,
            "issued_at": facts.issued_at,
            "issued_on_wareki": wareki(to_tokyo(facts.issued_at).date()),
            "status": facts.status,
            "status_label": facts.status_label,
            "status_reason": facts.status_reason,
            "status_changed_at": facts.status_changed_at,
            "successor_code": facts.successor_code,
            "successor_url": verify_url(facts.successor_code) if facts.successor_code else None,
            "replaces_codes": [code for _, code in facts.replaces],
            "sha256": facts.sha256,
            "sealed_by": facts.sealed_by,
            "timestamped": facts.timestamped,
            "purged": facts.purged,
            "register_entry": None
            if inclusion is None
            else {
                "seq": inclusion.seq,
                "entry_hash": inclusion.entry_hash,
                "head_day": inclusion.head_day,
                "head_length": inclusion.head_length,
                "head": inclusion.head,
            },
        },
    )
