"""Console URLs: webhooks (to be included from console/urls.py, "console" namespace)."""

from django.urls import URLPattern, path

from madoguchi.console import views_webhooks

urlpatterns: list[URLPattern] = [
    path("settings/webhooks/", views_webhooks.webhooks, name="webhooks"),
    path("settings/webhooks/<int:endpoint_id>/", views_webhooks.webhook_detail, name="webhook"),
    path(
        "settings/webhooks/<int:endpoint_id>/disable/",
        views_webhooks.webhook_disable,
        name="webhook_disable",
    ),
]
