"""The site's URLs with the token and webhook console pages spliced in, as the lead will do in
console/urls.py; once they are there, this adds nothing twice."""

from django.urls import URLPattern, URLResolver, include, path

from madoguchi.conf import urls as site
from madoguchi.console import urls as console_urls
from madoguchi.console import urls_tokens, urls_webhooks

_present = {p.name for p in console_urls.urlpatterns if isinstance(p, URLPattern)}
_console = [
    *console_urls.urlpatterns,
    *(p for p in (*urls_tokens.urlpatterns, *urls_webhooks.urlpatterns) if p.name not in _present),
]


def _swap(entry: URLPattern | URLResolver) -> URLPattern | URLResolver:
    if isinstance(entry, URLResolver) and str(entry.pattern) == "console/":
        return path("console/", include((_console, "console")))
    return entry


urlpatterns = [_swap(entry) for entry in site.urlpatterns]
