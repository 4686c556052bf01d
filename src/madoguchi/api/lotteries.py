"""抽選 (lotteries) over HTTP: the public rules and published results of a lottery, and a
resident's entry.

``GET /lotteries/{id}/`` publishes what anyone needs to re-run the draw
(``madoguchi lottery verify <id> --url …``): the commitment always; the seed, the entrant
list (public codes and slot ids, no names), its digest, the winners and the second draw's
commitment only after the draw — never the seed before it; the second draw's own seed only
once the second draw has run (in ``second``).

``POST /lotteries/{id}/entries/`` enters as the logged-in resident (API token with the scope
``applications``, or the portal session with its CSRF token), with an ``Idempotency-Key``
(the same key again returns the same entry, 200). Body: ``{"choices": [[slot ids], …]}``,
first choice first; the slots of one choice win or lose together. 201 entered; 403 no
approved 利用者登録 (or suspended); 404 no such lottery; 409 outside the entry window, over a
cap, or a key used for another lottery; 422 choices wrong (the message says which).
"""

from __future__ import annotations

from typing import Any, Final

from django.http import HttpRequest
from ninja import Router, Schema, Status
from ninja.errors import HttpError
from pydantic import Field

from madoguchi.api.applications import (
    ResidentSession,
    ResidentToken,
    _idempotency_key,
    _json_body,
    _resident,
)
from madoguchi.api.schemas import ErrorOut
from madoguchi.applications.constants import IDEMPOTENCY_KEY_PATTERN
from madoguchi.core.lgcode import InvalidLgCode
from madoguchi.core.time import now
from madoguchi.reservations.lottery import (
    lotteries_of,
    lottery_enter,
    lottery_get,
    published,
    registration_of,
)
from madoguchi.reservations.models import Lottery
from madoguchi.reservations.services import ReservationError
from madoguchi.tenants.models import Organisation
from madoguchi.tenants.selectors import organisation_get

router = Router(tags=["抽選"])

_STATUS_OF_CODE: Final = {
    "registration": 403,
    "suspended": 403,
    "identity": 403,
    "not_open": 409,
    "cap": 409,
    "idempotency": 409,
    "duplicate": 422,
    "invalid": 422,
    "not_in_lottery": 422,
}


class FacilityRef(Schema):
    id: int
    name: str


class WinnerOut(Schema):
    code: str = Field(description="応募番号")
    rank: int = Field(description="当選した希望の順位（1が第1希望）")
    slots: list[int] = Field(description="当選した枠の id（全面の枠には、その部分の枠も含む）")


class EntrantOut(Schema):
    code: str
    choices: list[list[int]]


class SecondDrawOut(Schema):
    seed: str = Field(
        description="二次抽選のシード（1回目とは別に作った値）。二次抽選の後にだけ公開"
    )
    commitment: str = Field(description="second_commitment と同じ値")
    entrants_digest: str
    entrants: list[EntrantOut]
    winners: list[WinnerOut]
    drawn_at: str


class LotteryOut(Schema):
    id: int
    name: str
    organisation: str = Field(description="団体コード")
    facilities: list[FacilityRef]
    month: str = Field(description="利用月の初日")
    entry_opens_at: str
    entry_closes_at: str
    draw_at: str
    confirm_deadline: str
    release_rule: str
    release_at: str = Field(description="残った枠の先着受付の開始（二次抽選の確定期限）")
    status: str
    algorithm: str
    commitment: str = Field(description="SHA-256(抽選方式 + 改行 + シード)。受付開始前から公開")
    drawn_at: str | None
    seed: str | None = Field(description="シード。抽選の後にだけ公開")
    entrants_digest: str | None
    entrants: list[EntrantOut] | None
    winners: list[WinnerOut] | None
    second_commitment: str | None = Field(
        description="二次抽選のシードのコミットメント（SHA-256(抽選方式 + 改行 + 二次抽選のシード)）。"
        "二次抽選のある抽選で、1回目の抽選の後から公開"
    )
    second: SecondDrawOut | None


class LotteryPage(Schema):
    results: list[LotteryOut]


class EntryIn(Schema):
    choices: list[list[int]] = Field(description="希望順の枠のまとまり（[[枠id, …], …]）")


class EntryOut(Schema):
    code: str = Field(description="応募番号（公開の一覧に載る番号）")
    status: str
    lottery: int
    choices: list[list[int]]


def _out(lottery: Lottery) -> dict[str, Any]:
    data = published(lottery)
    data["facilities"] = [{"id": f.pk, "name": f.name} for f in lottery.facilities.all()]
    return data


_ERRORS = dict.fromkeys((400, 401, 403, 404, 409, 413, 415, 422), ErrorOut)


@router.get(
    "/organisations/{code}/lotteries/",
    response={200: LotteryPage, 400: ErrorOut, 404: ErrorOut},
    summary="団体の抽選の一覧",
)
def list_lotteries(request: HttpRequest, code: str) -> dict[str, Any]:
    try:
        organisation = organisation_get(code=code)
    except InvalidLgCode as error:
        raise HttpError(400, str(error)) from None
    except Organisation.DoesNotExist:
        raise HttpError(404, "その団体コードの団体は見つかりません。") from None
    return {"results": [_out(lottery) for lottery in lotteries_of(organisation)[:200]]}


@router.get(
    "/lotteries/{lottery_id}/",
    response={200: LotteryOut, 404: ErrorOut},
    summary="抽選の公開データ（抽選後はシード・応募者の一覧・当選）",
)
def get_lottery(request: HttpRequest, lottery_id: int) -> dict[str, Any]:
    if not 1 <= lottery_id < 2**63:
        raise HttpError(404, "その抽選は見つかりません。")
    try:
        return _out(lottery_get(pk=lottery_id))
    except Lottery.DoesNotExist:
        raise HttpError(404, "その抽選は見つかりません。") from None


@router.post(
    "/lotteries/{lottery_id}/entries/",
    auth=[ResidentToken(), ResidentSession()],
    response={201: EntryOut, 200: EntryOut, **_ERRORS},
    summary="抽選に応募する（冪等: 同じ Idempotency-Key なら同じ応募）",
    openapi_extra={
        "parameters": [
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": True,
                "schema": {"type": "string", "pattern": IDEMPOTENCY_KEY_PATTERN},
                "description": "応募ごとに一つ作る識別子（16〜64文字の英数字・-・_）。",
            }
        ],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": EntryIn.model_json_schema()}},
        },
    },
)
def enter_lottery(request: HttpRequest, lottery_id: int) -> Status[dict[str, Any]]:
    user = _resident(request)
    key = _idempotency_key(request)
    body = _json_body(request)
    unknown = sorted(set(body) - {"choices"})
    if unknown:
        raise HttpError(422, f"指定できない項目です: {str(unknown[0])[:100]}")
    if not 1 <= lottery_id < 2**63:
        raise HttpError(404, "その抽選は見つかりません。")
    try:
        lottery = lottery_get(pk=lottery_id)
    except Lottery.DoesNotExist:
        raise HttpError(404, "その抽選は見つかりません。") from None
    registration = registration_of(lottery.organisation, user)
    if registration is None:
        raise HttpError(403, "抽選に応募するには、この団体の利用者登録（確認済み）が必要です。")
    try:
        result = lottery_enter(
            organisation=lottery.organisation,
            lottery_id=lottery.pk,
            registration=registration,
            user=user,
            choices=body.get("choices"),
            idempotency_key=key,
            now=now(),
        )
    except ReservationError as error:
        raise HttpError(_STATUS_OF_CODE.get(error.code, 422), str(error)) from None
    entry = result.entry
    groups: dict[int, list[int]] = {}
    for choice in entry.choices.order_by("rank", "slot_id"):
        groups.setdefault(choice.rank, []).append(choice.slot_id)
    return Status(
        200 if result.replayed else 201,
        {
            "code": entry.code,
            "status": entry.status,
            "lottery": lottery.pk,
            "choices": [groups[rank] for rank in sorted(groups)],
        },
    )
