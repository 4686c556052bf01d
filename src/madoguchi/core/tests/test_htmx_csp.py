"""htmx works under the Content Security Policy: it injects no inline style (style-src 'self')."""

from __future__ import annotations

import json
import re

import pytest

HTMX_CONFIG = re.compile(r"<meta name=\"htmx-config\" content='([^']*)'>")


@pytest.mark.parametrize("path", ["/", "/console/login/"])
def test_portal_and_console_pages_tell_htmx_not_to_inject_its_style(client, db, path):
    page = client.get(path).content.decode()

    found = HTMX_CONFIG.search(page)
    assert found, path
    assert json.loads(found.group(1))["includeIndicatorStyles"] is False
    # The meta comes before htmx itself, which reads it once when it loads.
    assert found.start() < page.index("htmx.min.js")


@pytest.mark.browser
def test_a_console_page_loads_htmx_without_a_csp_violation(browser, live_server):
    """Finding 11: htmx's inline <style> was blocked by the CSP on every console page."""
    context = browser.new_context(locale="ja-JP", base_url=live_server.url)  # CSP enforced
    page = context.new_page()
    messages: list[str] = []
    page.on("console", lambda message: messages.append(message.text))
    try:
        page.goto("/console/login/")
        page.wait_for_function("window.htmx !== undefined")
        assert page.evaluate("htmx.config.includeIndicatorStyles") is False
    finally:
        context.close()

    assert [text for text in messages if "Content Security Policy" in text] == []
