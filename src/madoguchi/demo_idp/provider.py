"""The demo identity provider's protocol: codes, tokens, client authentication, signing.

Speaks what the relying party (:mod:`madoguchi.identity.providers.rp`) speaks to a real OP:
discovery, JWKS, the authorization code flow with PKCE S256 (checked with authlib's
``create_s256_code_challenge``), ``private_key_jwt`` client authentication verified against the
RP's registered JWKS (algorithms RS256/ES256 only, ``aud`` this endpoint or the issuer, ``exp``
in the future, ``jti`` single use), ID tokens signed RS256 with its own key (generated once
into ``<data dir>/oidc/demo-idp.pem``), userinfo, and the national app's signing flow
(digest in; the card's PKCS#1 v1.5 signature and certificate out, as a compact JWE
``RSA-OAEP-256`` + ``A256GCM`` to the RP's ``enc`` key).

Registered clients: one, ``madoguchi-demo``, with this installation's demo RP keys; its
redirect URIs are this site's ``/account/oidc/…`` callbacks.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

from authlib.oauth2.rfc7636 import create_s256_code_challenge
from django.conf import settings
from django.db import IntegrityError, transaction
from joserfc import jwe, jwk, jwt
from joserfc.errors import JoseError

from madoguchi.demo_idp.models import DemoGrant
from madoguchi.identity.providers.config import DEMO_CLIENT_ID, demo_key_paths
from madoguchi.identity.providers.keys import key_file_ensure, private_key, public_jwks

FLAVOURS: Final = ("national", "gbizid")
CODE_SECONDS: Final = 120
TOKEN_SECONDS: Final = 300
SIGN_TX_SECONDS: Final = 600
CLIENT_ALGS: Final = ("RS256", "ES256")
REDIRECT_PREFIX: Final = "/account/oidc/"
CLIENT_ASSERTION_TYPE: Final = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

#: Demo businesses for the gBizID flavour: (key, corporate number, company, user, account type).
DEMO_BUSINESSES: Final = (
    ("prime", "7000012050002", "株式会社デモ商事", "見本 一郎", "2"),
    ("member", "7000012050002", "株式会社デモ商事", "見本 花子", "3"),
    ("entry", "", "デモ個人事業", "試験 次郎", "1"),
)
DEMO_PIN: Final = "1234"
DEMO_SIGN_PASSWORD: Final = "DEMO1234"  # noqa: S105 (a demo value, shown on the page)


class GrantError(Exception):
    """An OAuth error; ``str()`` is the ``error`` code."""


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def op_key() -> jwk.RSAKey | jwk.ECKey:
    return private_key(key_file_ensure(Path(settings.DATA_DIR) / "oidc" / "demo-idp.pem"))


def op_jwks() -> dict[str, Any]:
    key = op_key()
    return {"keys": [{**key.as_dict(private=False), "use": "sig", "alg": "RS256", "kid": key.kid}]}


def client_jwks(client_id: str) -> jwk.KeySet | None:
    if client_id != DEMO_CLIENT_ID:
        return None
    signing, encryption = demo_key_paths()
    return jwk.KeySet.import_key_set(public_jwks(signing=signing, encryption=encryption))  # type: ignore[arg-type]


def metadata(issuer: str, flavour: str) -> dict[str, Any]:
    data: dict[str, Any] = {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/authorize",
        "token_endpoint": f"{issuer}/token",
        "jwks_uri": f"{issuer}/jwks",
        "userinfo_endpoint": f"{issuer}/userinfo",
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": list(CLIENT_ALGS),
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": ["openid", "name", "address", "birthdate", "gender", "profile"],
    }
    if flavour == "national":
        data["acr_values_supported"] = ["aal3"]
        data["signing_request_endpoint"] = f"{issuer}/sign/request"
        data["signing_result_endpoint"] = f"{issuer}/sign/result"
    return data


def _store(kind: str, secret: str, data: Mapping[str, Any], *, now: datetime, seconds: int) -> None:
    # Nothing of the demo outlives a day: expired grants go as new ones come.
    DemoGrant.objects.filter(expires_at__lt=now - timedelta(days=1)).delete()
    DemoGrant.objects.create(
        kind=kind,
        key_hash=_hash(secret),
        data=dict(data),
        created_at=now,
        expires_at=now + timedelta(seconds=seconds),
    )


def _take(kind: str, secret: object, *, now: datetime, consume: bool) -> dict[str, Any]:
    """The data of a live grant; ``consume`` uses it up (a second use fails, even racing)."""
    if not isinstance(secret, str) or not secret or len(secret) > 512:
        raise GrantError("invalid_grant")
    found = DemoGrant.objects.filter(
        kind=kind, key_hash=_hash(secret), expires_at__gt=now, used_at__isnull=True
    ).first()
    if found is None:
        raise GrantError("invalid_grant")
    if consume:
        taken = DemoGrant.objects.filter(pk=found.pk, used_at__isnull=True).update(used_at=now)
        if taken != 1:
            raise GrantError("invalid_grant")
    return dict(found.data)


def redirect_uri_allowed(redirect_uri: str, *, host: str) -> bool:
    from urllib.parse import urlsplit

    parts = urlsplit(redirect_uri)
    return (
        parts.scheme in {"http", "https"}
        and parts.netloc == host
        and parts.path.startswith(REDIRECT_PREFIX)
        and not parts.fragment
    )


@dataclass(frozen=True)
class AuthorizationRequest:
    client_id: str
    redirect_uri: str
    state: str
    nonce: str
    code_challenge: str
    scope: str
    acr_values: str
    sign_tx: str


def authorization_request(params: Mapping[str, str], *, host: str) -> AuthorizationRequest:
    """Check an authorization request; raises GrantError (shown on the page: no redirect to
    an unchecked URI)."""
    if params.get("response_type") != "code":
        raise GrantError("unsupported_response_type")
    client_id = params.get("client_id", "")
    if client_jwks(client_id) is None:
        raise GrantError("unauthorized_client")
    redirect_uri = params.get("redirect_uri", "")
    if not redirect_uri_allowed(redirect_uri, host=host):
        raise GrantError("invalid_redirect_uri")
    if (
        params.get("code_challenge_method") != "S256"
        or not 43 <= len(params.get("code_challenge", "")) <= 128
    ):
        raise GrantError("invalid_request")
    if "openid" not in params.get("scope", "").split():
        raise GrantError("invalid_scope")
    nonce = params.get("nonce", "")
    if not nonce or len(nonce) > 200:
        raise GrantError("invalid_request")
    return AuthorizationRequest(
        client_id=client_id,
        redirect_uri=redirect_uri,
        state=params.get("state", "")[:200],
        nonce=nonce,
        code_challenge=params["code_challenge"],
        scope=params.get("scope", "")[:200],
        acr_values=params.get("acr_values", "")[:100],
        sign_tx=params.get("sign_tx", "")[:200],
    )


def code_issue(
    request: AuthorizationRequest,
    *,
    id_claims: Mapping[str, Any],
    userinfo: Mapping[str, Any],
    now: datetime,
) -> str:
    code = secrets.token_urlsafe(32)
    _store(
        DemoGrant.Kind.CODE,
        code,
        {
            "client_id": request.client_id,
            "redirect_uri": request.redirect_uri,
            "nonce": request.nonce,
            "code_challenge": request.code_challenge,
            "id_claims": dict(id_claims),
            "userinfo": dict(userinfo),
            "sign_tx": request.sign_tx,
        },
        now=now,
        seconds=CODE_SECONDS,
    )
    return code


def client_authenticate(fields: Mapping[str, str], *, audiences: set[str], now: datetime) -> str:
    """``private_key_jwt``: the client id whose registered key signed a fresh assertion."""
    if fields.get("client_assertion_type") != CLIENT_ASSERTION_TYPE:
        raise GrantError("invalid_client")
    assertion = fields.get("client_assertion", "")
    client_id = fields.get("client_id", "")
    keys = client_jwks(client_id)
    if keys is None or not assertion or len(assertion) > 8192:
        raise GrantError("invalid_client")
    try:
        head = assertion.split(".", 1)[0]
        header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    except (ValueError, UnicodeDecodeError):
        raise GrantError("invalid_client") from None
    if not isinstance(header, dict) or header.get("alg") not in CLIENT_ALGS:
        raise GrantError("invalid_client")
    try:
        token = jwt.decode(assertion, keys, algorithms=list(CLIENT_ALGS))
    except (JoseError, ValueError, TypeError):
        raise GrantError("invalid_client") from None
    claims = token.claims
    moment = int(now.timestamp())
    exp = claims.get("exp")
    if (
        claims.get("iss") != client_id
        or claims.get("sub") != client_id
        or claims.get("aud") not in audiences
        or not isinstance(exp, int)
        or exp < moment
        or exp > moment + 600
        or not isinstance(claims.get("jti"), str)
    ):
        raise GrantError("invalid_client")
    try:
        with transaction.atomic():
            _store(DemoGrant.Kind.JTI, f"{client_id}:{claims['jti']}", {}, now=now, seconds=600)
    except IntegrityError:  # the unique constraint: a replayed assertion
        raise GrantError("invalid_client") from None
    return client_id


def token_issue(
    fields: Mapping[str, str], *, issuer: str, token_endpoint: str, now: datetime
) -> dict[str, Any]:
    client_id = client_authenticate(fields, audiences={token_endpoint, issuer}, now=now)
    if fields.get("grant_type") != "authorization_code":
        raise GrantError("unsupported_grant_type")
    with transaction.atomic():
        grant = _take(DemoGrant.Kind.CODE, fields.get("code"), now=now, consume=True)
    if grant["client_id"] != client_id or grant["redirect_uri"] != fields.get("redirect_uri"):
        raise GrantError("invalid_grant")
    verifier = fields.get("code_verifier", "")
    if not 43 <= len(verifier) <= 128 or not hmac.compare_digest(
        create_s256_code_challenge(verifier), str(grant["code_challenge"])
    ):
        raise GrantError("invalid_grant")
    moment = int(now.timestamp())
    id_claims = {
        **dict(grant["id_claims"]),
        "iss": issuer,
        "aud": client_id,
        "iat": moment,
        "exp": moment + TOKEN_SECONDS,
        "nonce": grant["nonce"],
    }
    key = op_key()
    id_token = jwt.encode(
        {"alg": "RS256", "kid": key.kid or ""}, id_claims, key, algorithms=["RS256"]
    )
    access = secrets.token_urlsafe(32)
    _store(
        DemoGrant.Kind.TOKEN,
        access,
        {
            "userinfo": grant["userinfo"],
            "sign_tx": grant.get("sign_tx", ""),
            "client_id": client_id,
        },
        now=now,
        seconds=TOKEN_SECONDS,
    )
    return {
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": TOKEN_SECONDS,
        "id_token": id_token,
    }


def bearer(header: str) -> str:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise GrantError("invalid_token")
    return value.strip()


def userinfo(access_token: str, *, now: datetime) -> dict[str, Any]:
    grant = _take(DemoGrant.Kind.TOKEN, access_token, now=now, consume=False)
    return dict(grant["userinfo"])


def sign_request(
    fields: Mapping[str, str], *, issuer: str, endpoint: str, now: datetime
) -> dict[str, Any]:
    client_id = client_authenticate(fields, audiences={endpoint, issuer}, now=now)
    digest = fields.get("digest", "")
    if fields.get("digest_algorithm") != "S256" or len(digest) != 43:
        raise GrantError("invalid_request")
    transaction_id = secrets.token_urlsafe(24)
    _store(
        DemoGrant.Kind.SIGN_TX,
        transaction_id,
        {"client_id": client_id, "digest": digest, "signed": None},
        now=now,
        seconds=SIGN_TX_SECONDS,
    )
    return {"sign_tx": transaction_id, "expires_in": SIGN_TX_SECONDS}


def sign_transaction(transaction_id: str, *, now: datetime) -> dict[str, Any]:
    return _take(DemoGrant.Kind.SIGN_TX, transaction_id, now=now, consume=False)


def sign_record(
    transaction_id: str, *, signature: bytes, certificate: bytes, now: datetime
) -> None:
    """The card signed: keep signature and certificate with the transaction."""
    row = DemoGrant.objects.get(kind=DemoGrant.Kind.SIGN_TX, key_hash=_hash(transaction_id))
    row.data = {
        **row.data,
        "signed": {
            "signature": base64.b64encode(signature).decode("ascii"),
            "certificate": base64.b64encode(certificate).decode("ascii"),
        },
    }
    row.save(update_fields=["data"])


def sign_result(access_token: str, transaction_id: str, *, now: datetime) -> str:
    """The compact JWE of the signed transaction, to the client's encryption key (once)."""
    grant = _take(DemoGrant.Kind.TOKEN, access_token, now=now, consume=False)
    if grant.get("sign_tx") != transaction_id:
        raise GrantError("invalid_token")
    with transaction.atomic():
        tx = _take(DemoGrant.Kind.SIGN_TX, transaction_id, now=now, consume=True)
    signed = tx.get("signed")
    if not isinstance(signed, dict) or tx.get("client_id") != grant.get("client_id"):
        raise GrantError("invalid_request")
    keys = client_jwks(str(grant["client_id"]))
    encryption = next((k for k in (keys.keys if keys else []) if k.get("use") == "enc"), None)
    if encryption is None:
        raise GrantError("invalid_client")
    payload = json.dumps(
        {"sign_tx": transaction_id, "digest": tx["digest"], **signed}, separators=(",", ":")
    )
    return jwe.encrypt_compact(
        {"alg": "RSA-OAEP-256", "enc": "A256GCM", "kid": encryption.kid or ""},
        payload,
        encryption,
        algorithms=["RSA-OAEP-256", "A256GCM"],
    )
