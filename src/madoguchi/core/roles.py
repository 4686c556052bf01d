"""Links across roles (``MADOGUCHI_ROLE``): a console page links to the resident portal and a
portal page to the console, but a ``portal`` process does not serve the console's URLs (nor a
``console`` process the portal's), so Django's ``reverse`` cannot find them there.

:func:`role_reverse` answers the path when this process serves the page, and otherwise the
address on the other side: ``MADOGUCHI_CONSOLE_URL`` + path on the portal side,
``MADOGUCHI_PORTAL_URL`` + path on the console side (the path is taken from the URL
configuration of every role, ``madoguchi.conf.urls_all``). A name that no role knows raises
``NoReverseMatch`` as ``reverse`` does. Templates use ``{% load roles %}{% role_url … %}``.
"""

from __future__ import annotations

from typing import Any, Final

from django.conf import settings
from django.urls import NoReverseMatch, reverse

#: Every role's patterns: where links to the other side are reversed.
ALL_URLCONF: Final = "madoguchi.conf.urls_all"


def other_side_base() -> str:
    """The address of the side this process does not serve ("" when it serves both or the
    address is not configured)."""
    role = getattr(settings, "ROLE", "all")
    if role == "portal":
        return str(getattr(settings, "CONSOLE_URL", "") or "").rstrip("/")
    if role == "console":
        return str(getattr(settings, "PORTAL_URL", "") or "").rstrip("/")
    return ""


def role_reverse(viewname: str, args: tuple[Any, ...] | list[Any] = ()) -> str:
    """The link to ``viewname``: a path when this process serves it, else an absolute address
    on the other side (see the module text)."""
    try:
        return reverse(viewname, args=list(args))
    except NoReverseMatch:
        if getattr(settings, "ROLE", "all") == "all":
            raise
    return other_side_base() + reverse(viewname, args=list(args), urlconf=ALL_URLCONF)


def serves_locally(viewname: str, args: tuple[Any, ...] | list[Any] = ()) -> bool:
    """Whether this process serves ``viewname``'s page itself."""
    try:
        reverse(viewname, args=list(args))
    except NoReverseMatch:
        return False
    return True


def reverse_any(viewname: str, args: tuple[Any, ...] | list[Any] = ()) -> str:
    """The path of ``viewname`` in whichever role serves it: for links in mail and documents,
    built on one side (or in the outbox worker) for a page on the other. Prefix it with
    ``MADOGUCHI_PORTAL_URL`` or ``MADOGUCHI_CONSOLE_URL``."""
    return reverse(viewname, args=list(args), urlconf=ALL_URLCONF)
