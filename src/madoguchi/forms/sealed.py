"""Sealed answers: sensitive values encrypted at rest, with a masked copy for display.

特定個人情報 (My Number) and bank accounts are stored sealed: the ciphertext (keys outside the
database, :mod:`madoguchi.core.crypto`) next to a masked form that screens, receipts and
exports show without the key. :class:`Sealed` is the one type for such a value, and this
module is the one place that knows how it is written in the stored JSON::

    {"$enc": "<Fernet token>", "masked": "●●●●●●●●1234"}                 # text (My Number)
    {"$enc": "<Fernet token of the JSON>", "format": "json",              # a bank account
     "masked": "…", "parts": {"bank_code": …, "account_number": "●●●●567", …}}

Everything else reads stored answers through :func:`madoguchi.forms.answers.walk`, which
gives a sealed value as a :class:`Sealed`, never as that dict.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from madoguchi.core.crypto import decrypt, encrypt
from madoguchi.forms.base import FieldSpec, field_types
from madoguchi.forms.constants import Privacy
from madoguchi.forms.field_types import mask_my_number

#: Field types sealed at rest although not 特定個人情報: the account a benefit is paid to.
SEALED_TYPES: Final = frozenset({"bank_account"})

#: What a sealed value shows when its stored form carries no masked copy.
UNKNOWN_MASK: Final = "●●●●"

_CIPHERTEXT_KEY: Final = "$enc"


def must_seal(spec: FieldSpec) -> bool:
    """Whether the answer to ``spec`` is stored sealed (特定個人情報, or a bank account)."""
    return spec.privacy == Privacy.SPECIFIC or spec.type in SEALED_TYPES


@dataclass(frozen=True)
class Sealed:
    """One sealed answer: the ciphertext and what may be shown without decrypting it."""

    token: str
    masked: str = UNKNOWN_MASK
    #: The plain value is structured (a bank account), stored as JSON.
    structured: bool = False
    #: The parts of a structured value with the secret part masked (exports show these).
    parts: Mapping[str, Any] | None = field(default=None, hash=False, compare=False)

    @classmethod
    def from_stored(cls, obj: Any) -> Sealed | None:
        """The sealed value ``obj`` stores, or None when ``obj`` is not a sealed value."""
        if not isinstance(obj, Mapping) or _CIPHERTEXT_KEY not in obj:
            return None
        parts = obj.get("parts")
        return cls(
            token=str(obj[_CIPHERTEXT_KEY]),
            masked=str(obj.get("masked", UNKNOWN_MASK)),
            structured=obj.get("format") == "json",
            parts=dict(parts) if isinstance(parts, Mapping) else None,
        )

    def to_stored(self) -> dict[str, Any]:
        """The JSON form kept in the answers (the inverse of :meth:`from_stored`)."""
        if self.structured:
            return {
                _CIPHERTEXT_KEY: self.token,
                "format": "json",
                "masked": self.masked,
                "parts": dict(self.parts or {}),
            }
        return {_CIPHERTEXT_KEY: self.token, "masked": self.masked}

    def reveal(self) -> Any:
        """The plain value. Callers that show it to a person record why (an audit event).
        Raises ``DecryptionFailed`` when the configured keys do not fit."""
        text = decrypt(self.token)
        return json.loads(text) if self.structured else text

    def __str__(self) -> str:
        return self.masked


def seal(spec: FieldSpec, value: Any) -> Sealed:
    """Seal the plain answer ``value`` to ``spec``.

    Text (My Number) is encrypted as it is; a structured value (a bank account) as JSON, with
    its parts kept masked (the account number shortened to its last digits) so that screens,
    receipts and exports never need the key.
    """
    if isinstance(value, dict):
        parts = dict(value)
        number = str(parts.get("account_number", ""))
        parts["account_number"] = "●" * 4 + number[-3:] if number else ""
        return Sealed(
            token=encrypt(json.dumps(value, ensure_ascii=False, sort_keys=True)),
            masked=field_types[spec.type].display(value, spec),
            structured=True,
            parts=parts,
        )
    text = str(value)
    return Sealed(token=encrypt(text), masked=mask_my_number(text))


def reveal(value: Any) -> Any:
    """The plain form of an answer: a :class:`Sealed` (or its stored form) decrypted, any
    other value as it is. Raises ``DecryptionFailed`` when the keys do not fit."""
    sealed = value if isinstance(value, Sealed) else Sealed.from_stored(value)
    return value if sealed is None else sealed.reveal()
