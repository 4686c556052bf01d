"""Facts about the HTTP request that domain services need, read in one place."""

from __future__ import annotations

import ipaddress

from django.http import HttpRequest


def client_address(request: HttpRequest) -> str | None:
    """The client's IP address as the server saw it, or ``None`` when ``REMOTE_ADDR`` is not an
    address (a misconfigured proxy). A reverse proxy in front must set ``REMOTE_ADDR`` to the
    real client (e.g. granian/nginx real-IP), or every client counts as the proxy."""
    address = str(request.META.get("REMOTE_ADDR") or "")
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None
