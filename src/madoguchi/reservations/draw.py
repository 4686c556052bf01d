"""The lottery draw (抽選), a pure function anyone can re-run.

Published before the entry window closes: ``commitment = SHA-256("<version>\\n<seed>")``
(hex). Published after the draw: the ``seed``, the entrant list (each entry's public code and
its choices as slot ids — no names) and ``entrants_digest``, the SHA-256 of that list in its
canonical form (:func:`entrants_canonical`). With those alone, :func:`draw` gives the same
winners on any machine (``madoguchi lottery verify``).

Algorithm ``madoguchi-draw-1``:

1. Every entry gets a ticket ``HMAC-SHA256(key=seed, msg=entrants_digest + ":" + code)``;
   entries are ordered by ticket (then code). Mixing the digest in means that adding, removing
   or changing any entry after the commitment reshuffles everyone, visibly.
2. Rounds by choice rank: first every entry's first choice in ticket order, then every loser's
   second choice in the same order, and so on. A choice is a group of slots that win or lose
   together (two consecutive コマ, a court on both days of a tournament): it wins only if
   every slot in it is still free and the entry has not won yet, and then takes them all.
3. Each entry wins at most once. Slots not won are listed as ``unclaimed``.

Caps (per user or group, per month, weekend sub-cap) are enforced when entries are made, so the
draw itself has no personal rules to hide behind.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

#: The version of the algorithm above; a new algorithm gets a new name, never a silent change.
ALGORITHM: Final = "madoguchi-draw-1"


@dataclass(frozen=True)
class Entrant:
    #: The public code of the entry (no personal data).
    code: str
    #: Choices in order of preference; each a group of slot ids that win or lose together.
    choices: tuple[tuple[int, ...], ...]


@dataclass(frozen=True)
class Win:
    code: str
    #: 1 for the first choice, 2 for the second …
    rank: int
    slots: tuple[int, ...]


@dataclass(frozen=True)
class DrawResult:
    algorithm: str
    entrants_digest: str
    #: Entry codes in ticket order (the order in which choices were served).
    order: tuple[str, ...]
    wins: tuple[Win, ...]

    def winners(self) -> dict[str, Win]:
        return {win.code: win for win in self.wins}


def commitment_of(seed: str, algorithm: str = ALGORITHM) -> str:
    """The hex SHA-256 published before the window closes."""
    return hashlib.sha256(f"{algorithm}\n{seed}".encode()).hexdigest()


def entrants_canonical(entrants: Iterable[Entrant]) -> bytes:
    """The entrant list as published: JSON, entries sorted by code, no spaces, UTF-8."""
    rows = sorted(
        ({"code": e.code, "choices": [list(c) for c in e.choices]} for e in entrants),
        key=lambda row: str(row["code"]),
    )
    return json.dumps(rows, ensure_ascii=False, separators=(",", ":")).encode()


def entrants_digest(entrants: Iterable[Entrant]) -> str:
    return hashlib.sha256(entrants_canonical(entrants)).hexdigest()


def draw(*, seed: str, entrants: Sequence[Entrant], algorithm: str = ALGORITHM) -> DrawResult:
    """Run the draw. Deterministic in ``seed`` and ``entrants`` (their order does not matter).
    Raises ``ValueError`` for an unknown algorithm or a duplicate entry code."""
    if algorithm != ALGORITHM:
        raise ValueError(f"未知の抽選方式です: {algorithm}")
    codes = [e.code for e in entrants]
    if len(set(codes)) != len(codes):
        raise ValueError("応募番号が重複しています。")
    digest = entrants_digest(entrants)
    key = seed.encode()

    def ticket(entrant: Entrant) -> tuple[bytes, str]:
        mac = hmac.new(key, f"{digest}:{entrant.code}".encode(), hashlib.sha256).digest()
        return mac, entrant.code

    ordered = sorted(entrants, key=ticket)
    taken: set[int] = set()
    won: dict[str, Win] = {}
    rounds = max((len(e.choices) for e in ordered), default=0)
    for rank in range(1, rounds + 1):
        for entrant in ordered:
            if entrant.code in won or len(entrant.choices) < rank:
                continue
            group = entrant.choices[rank - 1]
            if group and not any(slot in taken for slot in group):
                taken.update(group)
                won[entrant.code] = Win(code=entrant.code, rank=rank, slots=tuple(group))
    wins = tuple(won[e.code] for e in ordered if e.code in won)
    return DrawResult(
        algorithm=algorithm,
        entrants_digest=digest,
        order=tuple(e.code for e in ordered),
        wins=wins,
    )
