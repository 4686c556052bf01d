"""Identity proofing recorded for an account (身元確認): what raises it above level 1."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from madoguchi.identity.assurance import VerifiedIdentity
    from madoguchi.identity.models import User


def account_proofing(user: User) -> VerifiedIdentity | None:
    """The strongest identity proofing on record for ``user``, or None when there is none."""
    return None
