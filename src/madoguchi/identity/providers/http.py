"""Talking to an OpenID provider: small JSON and JOSE exchanges over HTTPS, with timeouts.

Every call has a timeout (``OIDC_TIMEOUT`` seconds), reads at most :data:`MAX_RESPONSE` bytes,
follows no redirect (an OP's endpoints are where its discovery says, nowhere else) and turns
every failure — refused connection, timeout, an HTTP error, a body that is not what was asked —
into :class:`ProviderUnavailable` or :class:`ProviderAnswerInvalid`, which the services turn
into a Japanese message. Nothing an OP sends is ever shown or logged as is.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any, Final

from django.conf import settings

from madoguchi.identity.providers.base import ProviderAnswerInvalid, ProviderUnavailable

MAX_RESPONSE: Final = 256 * 1024
USER_AGENT: Final = "madoguchi-oidc/1"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect())


def _url(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in {"https", "http"} or not parts.netloc:
        raise ProviderAnswerInvalid(f"not an http(s) URL: {url[:80]!r}")
    if parts.scheme == "http" and settings.PRODUCTION:
        raise ProviderAnswerInvalid("plain http to an OpenID provider in production")
    return url


def _open(request: urllib.request.Request) -> tuple[bytes, str]:
    try:
        with _OPENER.open(request, timeout=settings.OIDC_TIMEOUT) as response:
            body = response.read(MAX_RESPONSE + 1)
            kind = response.headers.get_content_type()
    except urllib.error.HTTPError as error:
        error.close()
        raise ProviderAnswerInvalid(f"HTTP {error.code}") from None
    except (urllib.error.URLError, TimeoutError, OSError, ValueError) as error:
        raise ProviderUnavailable(type(error).__name__) from None
    if len(body) > MAX_RESPONSE:
        raise ProviderAnswerInvalid("response too large")
    return body, kind


def _json(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ProviderAnswerInvalid("not JSON") from None
    if not isinstance(data, dict):
        raise ProviderAnswerInvalid("not a JSON object")
    return data


def get_json(url: str, *, bearer: str = "") -> dict[str, Any]:
    headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
    if bearer:
        headers["Authorization"] = f"Bearer {bearer}"
    request = urllib.request.Request(_url(url), headers=headers)  # noqa: S310 (scheme checked)
    body, _kind = _open(request)
    return _json(body)


def get_text(url: str, *, bearer: str) -> str:
    """A JOSE object (JWT or JWE, compact) or JSON, as text."""
    request = urllib.request.Request(  # noqa: S310 (scheme checked)
        _url(url),
        headers={
            "Accept": "application/jwt, application/jose, application/json",
            "User-Agent": USER_AGENT,
            "Authorization": f"Bearer {bearer}",
        },
    )
    body, _kind = _open(request)
    try:
        return body.decode("ascii").strip()
    except UnicodeDecodeError:
        raise ProviderAnswerInvalid("not ASCII") from None


def post_form(url: str, fields: Mapping[str, str]) -> dict[str, Any]:
    request = urllib.request.Request(  # noqa: S310 (scheme checked)
        _url(url),
        data=urllib.parse.urlencode(fields).encode("ascii"),
        method="POST",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        },
    )
    body, _kind = _open(request)
    return _json(body)
