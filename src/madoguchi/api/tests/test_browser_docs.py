"""A developer opens the interactive API documentation in a real Chromium, with the site's own
Content-Security-Policy in force (no bypass): the operations list is drawn from the platform's
own static files, and the browser reports no CSP violation."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.browser


def test_api_docs_render_the_operations_under_the_sites_csp(browser: Any, live_server: Any):
    context = browser.new_context(locale="ja-JP", base_url=live_server.url)  # CSP enforced
    page = context.new_page()
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    outside: list[str] = []
    page.on(
        "request",
        lambda request: (
            outside.append(request.url)
            if not request.url.startswith((live_server.url, "data:"))
            else None
        ),
    )
    try:
        response = page.goto("/api/v1/docs")
        assert response is not None
        csp = response.headers["content-security-policy"]
        assert "'unsafe-inline'" not in csp
        assert "script-src 'self'" in csp

        operations = page.locator(".opblock-summary-path")
        operations.first.wait_for(timeout=20_000)
        paths = operations.all_inner_texts()
        assert any("/api/v1/organisations/" in path for path in paths)
        assert page.locator(".opblock-tag").count() >= 1
        assert violations == []
        assert outside == []
    finally:
        context.close()
