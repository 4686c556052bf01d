"""gBizID (事業者の共通認証): business login, so that a company can apply (公文書開示請求 …).

The ID token / userinfo carry ``account_type`` and ``corporate_number`` (and the company's
and the user's names). The account type gives the level:

================  =====  =====  ===========================================================
account_type      ial    aal    why
================  =====  =====  ===========================================================
``1`` エントリー   1      1      self-registered online, no document checked, password only
``2`` プライム     2      2      the representative's identity checked on issue (印鑑証明書
                                 or the My Number card) and a second factor (SMS or the app)
                                 at every login
``3`` メンバー     2      2      created by a プライム under its responsibility, the same
                                 second factor at every login
================  =====  =====  ===========================================================

Neither reaches level 3: gBizID proves a person acting for a company, not a JPKI signature.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from madoguchi.identity.assurance import IdentityMethod, VerifiedAttributes, VerifiedIdentity
from madoguchi.identity.providers.base import ProviderAnswerInvalid, identity_providers
from madoguchi.identity.providers.national import subject_of

LEVEL_BY_ACCOUNT_TYPE = {"1": 1, "2": 2, "3": 2}
ACCOUNT_TYPE_LABELS = {"1": "エントリー", "2": "プライム", "3": "メンバー"}
_CORPORATE = re.compile(r"^\d{13}$")


def _text(value: object, limit: int = 200) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    return value.strip()[:limit] if isinstance(value, str) else ""


class GBizIDLogin:
    label = "gBizID"
    method = IdentityMethod.GBIZID.value
    scopes: tuple[str, ...] = ("openid", "profile", "email")
    signs = False

    def identity_from_claims(
        self, *, issuer: str, claims: Mapping[str, Any], verified_at: str
    ) -> VerifiedIdentity:
        account_type = _text(claims.get("account_type"), 2)
        if account_type not in LEVEL_BY_ACCOUNT_TYPE:
            raise ProviderAnswerInvalid("unknown gBizID account_type")
        level = LEVEL_BY_ACCOUNT_TYPE[account_type]
        corporate = _text(claims.get("corporate_number"), 13)
        name = _text(claims.get("name")) or " ".join(
            p for p in (_text(claims.get("user_last_nm")), _text(claims.get("user_first_nm"))) if p
        )
        attributes = VerifiedAttributes(
            name=name if level >= 2 else "",
            corporate_number=corporate if _CORPORATE.match(corporate) else "",
            corporate_name=_text(claims.get("corporate_name")),
            source=self.method,
        )
        return VerifiedIdentity(
            ial=level,
            aal=level,
            methods=(self.method,),
            subject=subject_of(issuer, claims),
            attributes=attributes,
            verified_at=verified_at,
            extra={"account_type": account_type},
        )


identity_providers.add("gbizid", GBizIDLogin())
