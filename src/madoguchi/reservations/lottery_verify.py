"""Re-run a published lottery (抽選の検証) from its published data alone.

:func:`lottery_verify` takes what the API (``GET /api/v1/lotteries/<id>/``) publishes and
checks, for the draw and for a second draw if there was one: the seed matches the commitment
published in advance (the draw's ``commitment`` before the window closed; the second draw's
``second_commitment`` with the first draw's results, its seed ``second.seed`` being
independent of the first one and revealed only at the second draw); the entrant list matches
its digest; re-running :func:`madoguchi.reservations.draw.draw` gives exactly the published
winners. Pure: no database, no network.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from madoguchi.reservations import draw


@dataclass(frozen=True)
class Check:
    ok: bool
    message: str


def _entrants(rows: Any) -> list[draw.Entrant]:
    if not isinstance(rows, list):
        raise ValueError("応募者の一覧が読めません。")
    out = []
    for row in rows:
        if not isinstance(row, dict) or not isinstance(row.get("code"), str):
            raise ValueError("応募者の一覧の形式が正しくありません。")
        choices = row.get("choices")
        if not isinstance(choices, list) or not all(
            isinstance(c, list) and all(type(s) is int for s in c) for c in choices
        ):
            raise ValueError(f"応募番号 {row['code']} の希望の形式が正しくありません。")
        out.append(draw.Entrant(code=row["code"], choices=tuple(tuple(c) for c in choices)))
    return out


def _round(label: str, data: dict[str, Any], algorithm: str, commitment: str) -> list[Check]:
    checks: list[Check] = []
    seed = data.get("seed")
    if not isinstance(seed, str) or not seed:
        return [Check(False, f"{label}: シード（seed）が公開されていません（抽選前です）。")]
    ok = draw.commitment_of(seed, algorithm) == commitment
    checks.append(
        Check(
            ok,
            f"{label}: シードは事前に公開したコミットメントと"
            + ("一致します。" if ok else "一致しません。"),
        )
    )
    try:
        entrants = _entrants(data.get("entrants"))
    except ValueError as error:
        return [*checks, Check(False, f"{label}: {error}")]
    digest = draw.entrants_digest(entrants)
    ok = digest == data.get("entrants_digest")
    checks.append(
        Check(
            ok,
            f"{label}: 応募者の一覧（{len(entrants)}件）はダイジェストと"
            + ("一致します。" if ok else f"一致しません（計算値 {digest}）。"),
        )
    )
    try:
        result = draw.draw(seed=seed, entrants=entrants, algorithm=algorithm)
    except ValueError as error:
        return [*checks, Check(False, f"{label}: 抽選を再実行できません: {error}")]
    expected = [{"code": w.code, "rank": w.rank, "slots": list(w.slots)} for w in result.wins]
    ok = expected == data.get("winners")
    checks.append(
        Check(
            ok,
            f"{label}: 再実行した当選（{len(expected)}件）は公開された当選と"
            + ("一致します。" if ok else "一致しません。"),
        )
    )
    return checks


def lottery_verify(published: dict[str, Any]) -> list[Check]:
    """Every check of the published data; all ``ok`` means the draw is what was promised."""
    algorithm = published.get("algorithm")
    commitment = published.get("commitment")
    if not isinstance(algorithm, str) or not isinstance(commitment, str):
        return [Check(False, "抽選方式またはコミットメントが公開データにありません。")]
    if algorithm != draw.ALGORITHM:
        return [Check(False, f"この版では検証できない抽選方式です: {algorithm}")]
    checks = _round("抽選", published, algorithm, commitment)
    second = published.get("second")
    if isinstance(second, dict) and second:
        # The second seed is checked against the commitment published with the first draw's
        # results (not against one that came with the seed itself).
        commitment2 = published.get("second_commitment")
        if not isinstance(commitment2, str) or not commitment2:
            return [
                *checks,
                Check(False, "二次抽選: 事前に公開したコミットメントが公開データにありません。"),
            ]
        if second.get("commitment") not in (None, commitment2):
            checks.append(
                Check(False, "二次抽選: 結果に載ったコミットメントが事前の公開と異なります。")
            )
        if second.get("seed") == published.get("seed"):
            checks.append(Check(False, "二次抽選: シードが1回目の抽選と同じです。"))
        checks += _round("二次抽選", second, algorithm, commitment2)
    return checks
