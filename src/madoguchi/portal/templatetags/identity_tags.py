"""The national login / gBizID buttons and the session's levels, for any resident page."""

from __future__ import annotations

from typing import Any

from django import template

from madoguchi.identity.assurance import LEVEL_NAMES, identity_current
from madoguchi.identity.models import User
from madoguchi.identity.providers.base import identity_providers
from madoguchi.identity.providers.config import providers_available
from madoguchi.identity.selectors import identity_links_of

register = template.Library()


def _providers(request: Any) -> list[tuple[str, str]]:
    available = providers_available(base_url=request.build_absolute_uri("/"))
    return [(key, identity_providers[key].label) for key in available]


@register.inclusion_tag("portal/identity/login_buttons.html", takes_context=True)
def oidc_login_buttons(
    context: template.Context, next: str = "", verifying: bool = False
) -> dict[str, Any]:
    request = context["request"]
    return {
        "providers": _providers(request),
        "next": next,
        "verifying": verifying,
        "csrf_token": context.get("csrf_token"),
    }


@register.inclusion_tag("portal/identity/status.html", takes_context=True)
def identity_status(context: template.Context) -> dict[str, Any]:
    request = context["request"]
    user = request.user
    identity = None
    links: list[dict[str, str]] = []
    if isinstance(user, User):
        identity = identity_current(user=user, session=request.session)
        links = [
            {"label": identity_providers[link.provider].label}
            for link in identity_links_of(user=user)
            if link.provider in identity_providers
        ]
    return {
        "providers": _providers(request),
        "next": "",
        "identity": identity,
        "ial_name": LEVEL_NAMES[identity.ial] if identity else "",
        "aal_name": LEVEL_NAMES[identity.aal] if identity else "",
        "links": links,
        "csrf_token": context.get("csrf_token"),
    }
