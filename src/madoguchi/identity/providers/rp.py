"""The relying party: one implementation of the OpenID Connect protocol for every provider.

- Discovery (``<issuer>/.well-known/openid-configuration``) and the OP's JWKS are fetched
  over HTTP with timeouts (:mod:`.http`) and cached for :data:`CACHE_SECONDS`; a token
  signed with a key id the cache does not know refreshes the JWKS once (key rotation).
  The discovered ``issuer`` must equal the configured one exactly.
- Authorization code flow with PKCE (S256 only), ``state`` and ``nonce`` (kept by the
  services in the session: single use, bound to the session, expiring).
- Client authentication ``private_key_jwt``: a client assertion signed with the RP's key
  (RS256 for RSA, ES256 for P-256), audience the endpoint it is sent to, short-lived,
  with a fresh ``jti``.
- ID token validation: the header's ``alg`` must be in :data:`ALLOWED_ALGS` (asymmetric only:
  never ``none``, never HS* — a public key is no shared secret) and the signature verify with
  the OP's JWKS; ``iss`` equal to the issuer; ``aud`` holding the client id, and ``azp`` equal
  to it when present or when there are several audiences; ``exp`` in the future and ``iat``
  not in the future nor older than :data:`MAX_TOKEN_AGE` (with :data:`LEEWAY` for clocks);
  ``nonce`` equal to the one sent; a ``sub``.
- Userinfo over the access token; its ``sub`` must be the ID token's.
- The national app's signing flow (discovery's ``signing_request_endpoint`` and
  ``signing_result_endpoint``): the digest is posted with a client assertion, the person
  authorizes the transaction, and the result comes back as a compact JWE encrypted to the
  RP's encryption key (``RSA-OAEP-256`` / ``A256GCM``), decrypted with joserfc.

Every failure raises :class:`~.base.ProviderUnavailable` or :class:`~.base.ProviderAnswerInvalid`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from joserfc import jwe, jwk, jwt
from joserfc.errors import JoseError

from madoguchi.identity.providers import http
from madoguchi.identity.providers.base import ProviderAnswerInvalid, ProviderConfig
from madoguchi.identity.providers.keys import private_key, signing_alg

ALLOWED_ALGS: Final = ("RS256", "PS256", "ES256")
JWE_ALGS: Final = ("RSA-OAEP-256", "RSA-OAEP", "A256GCM", "A128GCM")
CACHE_SECONDS: Final = 300
LEEWAY: Final = 60
MAX_TOKEN_AGE: Final = 600
ASSERTION_SECONDS: Final = 60
CLIENT_ASSERTION_TYPE: Final = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

_lock = threading.Lock()
_cache: dict[str, tuple[float, Any]] = {}


def _cached(key: str) -> Any | None:
    with _lock:
        hit = _cache.get(key)
    if hit is not None and hit[0] > time.monotonic():
        return hit[1]
    return None


def _store(key: str, value: Any) -> None:
    with _lock:
        if len(_cache) > 64:
            _cache.clear()
        _cache[key] = (time.monotonic() + CACHE_SECONDS, value)


def cache_clear() -> None:
    with _lock:
        _cache.clear()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Discovery:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str
    signing_request_endpoint: str
    signing_result_endpoint: str


def _endpoint(document: Mapping[str, Any], name: str, *, required: bool = True) -> str:
    value = document.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value.startswith(("https://", "http://")):
        raise ProviderAnswerInvalid(f"discovery: bad {name}")
    return value


def discover(issuer: str) -> Discovery:
    """The OP's metadata (cached). Its ``issuer`` must be exactly the configured one."""
    key = f"discovery:{issuer}"
    found = _cached(key)
    if isinstance(found, Discovery):
        return found
    document = http.get_json(issuer + "/.well-known/openid-configuration")
    if document.get("issuer") != issuer:
        raise ProviderAnswerInvalid("discovery: issuer differs")
    methods = document.get("code_challenge_methods_supported")
    if isinstance(methods, list) and "S256" not in methods:
        raise ProviderAnswerInvalid("discovery: no PKCE S256")
    discovery = Discovery(
        issuer=issuer,
        authorization_endpoint=_endpoint(document, "authorization_endpoint"),
        token_endpoint=_endpoint(document, "token_endpoint"),
        jwks_uri=_endpoint(document, "jwks_uri"),
        userinfo_endpoint=_endpoint(document, "userinfo_endpoint", required=False),
        signing_request_endpoint=_endpoint(document, "signing_request_endpoint", required=False),
        signing_result_endpoint=_endpoint(document, "signing_result_endpoint", required=False),
    )
    _store(key, discovery)
    return discovery


def op_keys(discovery: Discovery, *, refresh: bool = False) -> jwk.KeySet:
    key = f"jwks:{discovery.jwks_uri}"
    found = None if refresh else _cached(key)
    if isinstance(found, jwk.KeySet):
        return found
    document = http.get_json(discovery.jwks_uri)
    keys = document.get("keys")
    if not isinstance(keys, list):
        raise ProviderAnswerInvalid("jwks: no keys")
    usable = [
        k
        for k in keys
        if isinstance(k, dict) and k.get("kty") in {"RSA", "EC"} and k.get("use", "sig") == "sig"
    ]
    try:
        keyset = jwk.KeySet.import_key_set({"keys": usable})
    except (JoseError, ValueError, TypeError):
        raise ProviderAnswerInvalid("jwks: unusable keys") from None
    if any(getattr(k, "is_private", False) for k in keyset.keys):
        raise ProviderAnswerInvalid("jwks: holds private keys")
    _store(key, keyset)
    return keyset


def pkce_pair() -> tuple[str, str]:
    verifier = b64url(secrets.token_bytes(48))
    return verifier, b64url(hashlib.sha256(verifier.encode("ascii")).digest())


def authorization_url(
    config: ProviderConfig,
    discovery: Discovery,
    *,
    redirect_uri: str,
    state: str,
    nonce: str,
    challenge: str,
    scopes: tuple[str, ...],
    extra: Mapping[str, str] | None = None,
) -> str:
    query = {
        "response_type": "code",
        "client_id": config.client_id,
        "redirect_uri": redirect_uri,
        "scope": " ".join(scopes),
        "state": state,
        "nonce": nonce,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    if config.acr_values:
        query["acr_values"] = config.acr_values
    query.update(extra or {})
    separator = "&" if "?" in discovery.authorization_endpoint else "?"
    return discovery.authorization_endpoint + separator + urllib.parse.urlencode(query)


def client_assertion(config: ProviderConfig, *, audience: str, now: datetime) -> str:
    key = private_key(config.signing_key_path)
    issued = int(now.timestamp())
    claims = {
        "iss": config.client_id,
        "sub": config.client_id,
        "aud": audience,
        "jti": secrets.token_urlsafe(24),
        "iat": issued,
        "exp": issued + ASSERTION_SECONDS,
    }
    alg = signing_alg(key)
    return jwt.encode({"alg": alg, "kid": key.kid or ""}, claims, key, algorithms=[alg])


def _client_auth(config: ProviderConfig, *, audience: str, now: datetime) -> dict[str, str]:
    return {
        "client_id": config.client_id,
        "client_assertion_type": CLIENT_ASSERTION_TYPE,
        "client_assertion": client_assertion(config, audience=audience, now=now),
    }


@dataclass(frozen=True)
class Tokens:
    id_token: str
    access_token: str


def token_exchange(
    config: ProviderConfig,
    discovery: Discovery,
    *,
    code: str,
    redirect_uri: str,
    verifier: str,
    now: datetime,
) -> Tokens:
    answer = http.post_form(
        discovery.token_endpoint,
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
            **_client_auth(config, audience=discovery.token_endpoint, now=now),
        },
    )
    id_token, access_token = answer.get("id_token"), answer.get("access_token")
    token_type = answer.get("token_type")
    if not isinstance(id_token, str) or not isinstance(access_token, str) or not access_token:
        raise ProviderAnswerInvalid("token: no id_token or access_token")
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        raise ProviderAnswerInvalid("token: not a bearer token")
    return Tokens(id_token=id_token, access_token=access_token)


def _header(token: str) -> dict[str, Any]:
    try:
        header = json.loads(b64url_decode(token.split(".", 1)[0]))
    except (ValueError, UnicodeDecodeError):
        raise ProviderAnswerInvalid("id_token: unreadable header") from None
    if not isinstance(header, dict):
        raise ProviderAnswerInvalid("id_token: unreadable header")
    return header


def id_token_validate(
    config: ProviderConfig, discovery: Discovery, token: str, *, nonce: str, now: datetime
) -> dict[str, Any]:
    """The ID token's claims once every check in the module docstring passed."""
    if token.count(".") != 2 or len(token) > 16384:
        raise ProviderAnswerInvalid("id_token: not a compact JWS")
    header = _header(token)
    if header.get("alg") not in ALLOWED_ALGS:
        raise ProviderAnswerInvalid(f"id_token: alg {str(header.get('alg'))[:10]!r} refused")
    kid = header.get("kid")
    keyset = op_keys(discovery)
    if isinstance(kid, str) and not _has_kid(keyset, kid):
        keyset = op_keys(discovery, refresh=True)
    try:
        decoded = jwt.decode(token, keyset, algorithms=list(ALLOWED_ALGS))
    except (JoseError, ValueError, TypeError, KeyError):
        raise ProviderAnswerInvalid("id_token: signature does not verify") from None
    claims = dict(decoded.claims)
    if claims.get("iss") != config.issuer:
        raise ProviderAnswerInvalid("id_token: iss")
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    if config.client_id not in audiences:
        raise ProviderAnswerInvalid("id_token: aud")
    azp = claims.get("azp")
    if (len(audiences) > 1 or azp is not None) and azp != config.client_id:
        raise ProviderAnswerInvalid("id_token: azp")
    moment = int(now.timestamp())
    exp, iat = claims.get("exp"), claims.get("iat")
    if not isinstance(exp, int) or isinstance(exp, bool) or exp + LEEWAY <= moment:
        raise ProviderAnswerInvalid("id_token: expired")
    if not isinstance(iat, int) or isinstance(iat, bool):
        raise ProviderAnswerInvalid("id_token: no iat")
    if iat > moment + LEEWAY or iat < moment - MAX_TOKEN_AGE:
        raise ProviderAnswerInvalid("id_token: iat out of range")
    sent = claims.get("nonce")
    if not isinstance(sent, str) or not hmac.compare_digest(sent.encode(), nonce.encode()):
        raise ProviderAnswerInvalid("id_token: nonce")
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub or len(sub) > 255:
        raise ProviderAnswerInvalid("id_token: sub")
    acr = claims.get("acr")
    if acr is not None and not isinstance(acr, str):
        raise ProviderAnswerInvalid("id_token: acr")
    return claims


def _has_kid(keyset: jwk.KeySet, kid: str) -> bool:
    return any(k.kid == kid for k in keyset.keys)


def userinfo(discovery: Discovery, *, access_token: str, sub: str) -> dict[str, Any]:
    if not discovery.userinfo_endpoint:
        return {}
    claims = http.get_json(discovery.userinfo_endpoint, bearer=access_token)
    if claims.get("sub") != sub:
        raise ProviderAnswerInvalid("userinfo: sub differs")
    return claims


def signing_request(
    config: ProviderConfig, discovery: Discovery, *, digest: bytes, now: datetime
) -> str:
    """Post the SHA-256 digest; the OP's transaction id for the authorization request."""
    if not discovery.signing_request_endpoint or not discovery.signing_result_endpoint:
        raise ProviderAnswerInvalid("discovery: no signing endpoints")
    answer = http.post_form(
        discovery.signing_request_endpoint,
        {
            "digest": b64url(digest),
            "digest_algorithm": "S256",
            **_client_auth(config, audience=discovery.signing_request_endpoint, now=now),
        },
    )
    transaction = answer.get("sign_tx")
    if not isinstance(transaction, str) or not 8 <= len(transaction) <= 200:
        raise ProviderAnswerInvalid("signing: no sign_tx")
    return transaction


@dataclass(frozen=True)
class RawSignature:
    """What the card signed: PKCS#1 v1.5 over the digest, and its signing certificate (DER)."""

    signature: bytes
    certificate: bytes


def signing_result(
    config: ProviderConfig,
    discovery: Discovery,
    *,
    access_token: str,
    transaction: str,
    digest: bytes,
) -> RawSignature:
    if config.encryption_key_path is None:
        raise ProviderAnswerInvalid("no RP encryption key")
    url = discovery.signing_result_endpoint
    separator = "&" if "?" in url else "?"
    text = http.get_text(
        url + separator + urllib.parse.urlencode({"sign_tx": transaction}), bearer=access_token
    )
    key = private_key(config.encryption_key_path)
    if text.count(".") != 4 or len(text) > http.MAX_RESPONSE:
        raise ProviderAnswerInvalid("signing: not a compact JWE")
    try:
        decrypted = jwe.decrypt_compact(text, key, algorithms=list(JWE_ALGS))
        payload = json.loads(decrypted.plaintext or b"")
    except (JoseError, ValueError, TypeError, KeyError):
        raise ProviderAnswerInvalid("signing: JWE does not decrypt") from None
    if not isinstance(payload, dict):
        raise ProviderAnswerInvalid("signing: payload")
    if payload.get("sign_tx") != transaction or payload.get("digest") != b64url(digest):
        raise ProviderAnswerInvalid("signing: another transaction or digest")
    try:
        signature = base64.b64decode(str(payload["signature"]), validate=True)
        certificate = base64.b64decode(str(payload["certificate"]), validate=True)
    except (KeyError, ValueError):
        raise ProviderAnswerInvalid("signing: signature or certificate unreadable") from None
    if not signature or not certificate:
        raise ProviderAnswerInvalid("signing: empty signature or certificate")
    return RawSignature(signature=signature, certificate=certificate)
