"""Console URLs: staff API tokens (to be included from console/urls.py, "console" namespace)."""

from django.urls import URLPattern, path

from madoguchi.console import views_tokens

urlpatterns: list[URLPattern] = [
    path("settings/tokens/", views_tokens.tokens, name="tokens"),
    path("settings/tokens/<int:token_id>/revoke/", views_tokens.token_revoke, name="token_revoke"),
]
