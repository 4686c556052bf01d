"""デジタル認証アプリ (the national authentication app): login and signing with the My Number card.

Scopes ``openid name address birthdate gender`` give the card's 基本4情報 through userinfo.
The level follows the ID token's ``acr`` (what the app says the login used), never what was
asked for:

=================  =====  =====  ==========================================================
``acr``            ial    aal    why
=================  =====  =====  ==========================================================
``aal3``           3      3      the card and its PIN (利用者証明用電子証明書): the identity
                                 J-LIS proved, and the card in hand now
``aal2``           2      2      a second factor without the card this time
anything else      1      1      nothing this platform can rely on beyond an account
=================  =====  =====  ==========================================================

A value such as ``urn:…:aal3`` counts by its last segment. The verified attributes are kept
only from ial 2 up (below, they are no more than what the person typed anywhere).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from madoguchi.identity.assurance import IdentityMethod, VerifiedAttributes, VerifiedIdentity
from madoguchi.identity.providers.base import ProviderAnswerInvalid, identity_providers

_DATE = re.compile(r"^(\d{4})-?(\d{2})-?(\d{2})$")
_SEX = {"male": "1", "1": "1", "female": "2", "2": "2", "other": "3", "3": "3", "9": "3"}
LEVEL_BY_ACR = {"aal3": 3, "aal2": 2}


def acr_level(acr: object) -> int:
    if not isinstance(acr, str) or not acr:
        return 1
    last = re.split(r"[:/#]", acr.strip())[-1].lower()
    return LEVEL_BY_ACR.get(last, 1)


def _text(value: object, limit: int = 200) -> str:
    return value.strip()[:limit] if isinstance(value, str) else ""


def _address(value: object) -> str:
    if isinstance(value, Mapping):
        formatted = _text(value.get("formatted"))
        if formatted:
            return formatted
        parts = ("region", "locality", "street_address")
        return "".join(_text(value.get(p)) for p in parts)
    return _text(value)


def _birth_date(value: object) -> str:
    match = _DATE.match(_text(value, 20))
    return f"{match[1]}-{match[2]}-{match[3]}" if match else ""


def subject_of(issuer: str, claims: Mapping[str, Any]) -> str:
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub or len(sub) > 255:
        raise ProviderAnswerInvalid("no usable sub")
    return f"oidc:{issuer}#{sub}"


class NationalLogin:
    label = "デジタル認証アプリ"
    method = IdentityMethod.NATIONAL_LOGIN.value
    scopes: tuple[str, ...] = ("openid", "name", "address", "birthdate", "gender")
    signs = True

    def identity_from_claims(
        self, *, issuer: str, claims: Mapping[str, Any], verified_at: str
    ) -> VerifiedIdentity:
        level = acr_level(claims.get("acr"))
        attributes = None
        if level >= 2:
            attributes = VerifiedAttributes(
                name=_text(claims.get("name")),
                address=_address(claims.get("address")),
                birth_date=_birth_date(claims.get("birthdate")),
                sex=_SEX.get(_text(claims.get("gender"), 10).lower(), ""),
                source=self.method,
            )
        return VerifiedIdentity(
            ial=level,
            aal=level,
            methods=(self.method,),
            subject=subject_of(issuer, claims),
            attributes=attributes,
            verified_at=verified_at,
            extra={"acr": _text(claims.get("acr"), 100)},
        )


identity_providers.add("national", NationalLogin())
