"""Identity providers: what a login through an OpenID provider yields, and how it may fail.

An identity provider plugin (:data:`identity_providers`, the typed registry of
:mod:`madoguchi.core.registry`) knows one OP's scopes, the ``acr`` it asks for, and how its
claims map to a :class:`~madoguchi.identity.assurance.VerifiedIdentity` (levels and verified
attributes). The protocol itself (discovery, PKCE, ``private_key_jwt``, ID token checks) is
one implementation for all of them: :mod:`madoguchi.identity.providers.rp`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from madoguchi.core.registry import Registry
from madoguchi.identity.assurance import VerifiedIdentity


class ProviderError(Exception):
    """The OP could not be used; ``str()`` is a short English reason for the audit log only
    (never shown, never holding what the OP sent)."""


class ProviderUnavailable(ProviderError):
    """The OP did not answer (refused, timed out, unreachable)."""


class ProviderAnswerInvalid(ProviderError):
    """The OP answered, but not with what the protocol allows (an HTTP error, garbage, a token
    that fails a check)."""


@dataclass(frozen=True)
class ProviderConfig:
    """One configured OP for this installation."""

    key: str
    issuer: str
    client_id: str
    #: PEM of the RP's private key that signs client assertions (RS256 for RSA, ES256 for P-256).
    signing_key_path: Path
    #: PEM of the RP's RSA key that JWEs from the OP are encrypted to (signing flow); optional.
    encryption_key_path: Path | None
    scopes: tuple[str, ...]
    acr_values: str = ""
    #: True for the demo identity provider of this installation (never in production).
    demo: bool = False
    extra: Mapping[str, str] = field(default_factory=dict)


class IdentityProvider(Protocol):
    """What an OP plugin provides beyond the protocol."""

    #: The name people see (「デジタル認証アプリ」, 「gBizID」).
    label: str
    #: :class:`~madoguchi.identity.assurance.IdentityMethod` value recorded for its logins.
    method: str
    scopes: tuple[str, ...]
    #: Whether it offers the signing flow.
    signs: bool

    def identity_from_claims(
        self, *, issuer: str, claims: Mapping[str, Any], verified_at: str
    ) -> VerifiedIdentity:
        """Levels and verified attributes from the ID token's claims merged with userinfo.

        Raises :class:`ProviderAnswerInvalid` when the claims cannot be mapped at all."""
        ...


identity_providers: Registry[IdentityProvider] = Registry("identity providers")
