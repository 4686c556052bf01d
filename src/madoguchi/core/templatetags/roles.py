"""``{% role_url 'portal:procedure' code pk %}``: a link that works whichever role serves the page
(:func:`madoguchi.core.roles.role_reverse`)."""

from __future__ import annotations

from typing import Any

from django import template

from madoguchi.core.roles import role_reverse

register = template.Library()


@register.simple_tag
def role_url(viewname: str, *args: Any) -> str:
    return role_reverse(viewname, args)
