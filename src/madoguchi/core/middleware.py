"""Request-wide rules that belong to no single app."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import translation

#: Paths that are always Japanese: the staff console and the operators' admin site. Only the
#: resident portal offers English chrome.
JAPANESE_ONLY_PREFIXES = ("/console/", "/operator-admin/")


class JapaneseOnlyMiddleware:
    """Keep staff pages Japanese even when the browser asks for English (after LocaleMiddleware)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(JAPANESE_ONLY_PREFIXES):
            translation.activate("ja")
            request.LANGUAGE_CODE = "ja"
            # Templates leave out the language form on these pages (error pages included).
            request.japanese_only = True  # type: ignore[attr-defined]
        return self.get_response(request)
