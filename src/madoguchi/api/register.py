"""発行文書の台帳 (the register of issued documents) over HTTP: public, no login.

``GET /register/{lg_code}/heads/`` lists the organisation's published daily heads (newest
first); ``GET /register/{lg_code}/entries/`` its entries (first first), each with what its
hash covers. Anyone can recompute the chain: for entry *n*, SHA-256 (hex) of the UTF-8 text
of these lines joined by a line feed — ``madoguchi-register-2``, the organisation code, *n*,
``kind``, ``number_sha256``, ``code_sha256``, ``sha256``, ``issued_at``
(as given), ``prev_hash`` — equals ``entry_hash``,
and ``prev_hash`` of entry 1 is 64 zeros, of entry *n* the ``entry_hash`` of entry *n−1*.
No verification code, number, title or name is published.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from django.core.paginator import Paginator
from django.http import HttpRequest
from ninja import Query, Router, Schema
from ninja.errors import HttpError
from pydantic import Field

from madoguchi.api.schemas import ErrorOut
from madoguchi.core.lgcode import InvalidLgCode
from madoguchi.documents.publication import (
    HASH_VERSION,
    entry_public,
    register_entries_of,
    register_heads_of,
)
from madoguchi.tenants.models import Organisation
from madoguchi.tenants.selectors import organisation_get

router = Router(tags=["発行文書の台帳"])

MAX_PER_PAGE = 500


class PageIn(Schema):
    page: Annotated[int, Field(1, ge=1, le=1_000_000)] = 1
    per_page: Annotated[int, Field(100, ge=1, le=MAX_PER_PAGE)] = 100


class HeadOut(Schema):
    day: str = Field(description="公開した日（日本時間、YYYY-MM-DD）")
    length: int = Field(description="公開した時点の記載の数")
    head: str = Field(description="記載 length の entry_hash（SHA-256、16進）")
    published_at: str = Field(description="公開した日時（ISO 8601、UTC）")


class HeadPage(Schema):
    organisation: str = Field(description="団体コード（6桁）")
    count: int
    page: int
    per_page: int
    pages: int
    results: list[HeadOut]


class EntryOut(Schema):
    seq: int = Field(description="記載の番号（1から）")
    kind: str = Field(description="文書の種類のコード")
    kind_label: str = Field(description="文書の種類")
    number_sha256: str = Field(
        description="文書番号（印字のまま、UTF-8）の SHA-256（番号のない文書は空の文字列の SHA-256）"
    )
    issued_at: str = Field(description="発行日時（UTC、マイクロ秒まで。ハッシュに入る形）")
    issued_on: str = Field(description="発行日（日本時間）")
    code_sha256: str = Field(description="照合番号の SHA-256（照合番号そのものは公開しない）")
    sha256: str = Field(description="発行した PDF の SHA-256")
    prev_hash: str = Field(description="前の記載の entry_hash（記載 1 は 0 が64個）")
    entry_hash: str = Field(description="この記載のハッシュ")


class EntryPage(Schema):
    organisation: str = Field(description="団体コード（6桁）")
    hash_version: str = Field(description="ハッシュの形式（1行目に入る文字列）")
    count: int
    page: int
    per_page: int
    pages: int
    results: list[EntryOut]


def _organisation(lg_code: str) -> Organisation:
    try:
        return organisation_get(code=lg_code)
    except InvalidLgCode as error:
        raise HttpError(400, str(error)) from None
    except Organisation.DoesNotExist:
        raise HttpError(404, "その団体コードの団体は見つかりません。") from None


@router.get(
    "/register/{lg_code}/heads/",
    response={200: HeadPage, 400: ErrorOut, 404: ErrorOut},
    summary="発行文書の台帳: 公開した日次の先頭（新しい順）",
)
def register_heads(request: HttpRequest, lg_code: str, paging: Query[PageIn]) -> dict[str, Any]:
    organisation = _organisation(lg_code)
    paginator = Paginator(register_heads_of(organisation), paging.per_page)
    rows = paginator.page(paging.page).object_list if paging.page <= paginator.num_pages else []
    return {
        "organisation": organisation.lg_code,
        "count": paginator.count,
        "page": paging.page,
        "per_page": paging.per_page,
        "pages": max(1, math.ceil(paginator.count / paging.per_page)),
        "results": [
            {
                "day": head.day.isoformat(),
                "length": head.length,
                "head": head.head,
                "published_at": head.published_at.isoformat(),
            }
            for head in rows
        ],
    }


@router.get(
    "/register/{lg_code}/entries/",
    response={200: EntryPage, 400: ErrorOut, 404: ErrorOut},
    summary="発行文書の台帳: 記載（古い順。照合番号は SHA-256 だけ）",
)
def register_entries(request: HttpRequest, lg_code: str, paging: Query[PageIn]) -> dict[str, Any]:
    organisation = _organisation(lg_code)
    paginator = Paginator(register_entries_of(organisation), paging.per_page)
    rows = paginator.page(paging.page).object_list if paging.page <= paginator.num_pages else []
    results = []
    for entry in rows:
        public = entry_public(entry)
        results.append(
            {
                "seq": public.seq,
                "kind": public.kind,
                "kind_label": public.kind_label,
                "number_sha256": public.number_sha256,
                "issued_at": public.issued_at_text,
                "issued_on": public.issued_on.isoformat(),
                "code_sha256": public.code_sha256,
                "sha256": public.sha256,
                "prev_hash": public.prev_hash,
                "entry_hash": public.entry_hash,
            }
        )
    return {
        "organisation": organisation.lg_code,
        "hash_version": HASH_VERSION,
        "count": paginator.count,
        "page": paging.page,
        "per_page": paging.per_page,
        "pages": max(1, math.ceil(paginator.count / paging.per_page)),
        "results": results,
    }
