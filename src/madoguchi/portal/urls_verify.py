"""Public verification of issued documents: /verify/ (mounted in the root URL configuration
before any catch-all; no login)."""

from django.urls import path

from madoguchi.portal import views_verify

app_name = "verify"

urlpatterns = [
    path("", views_verify.verify_index, name="index"),
    path("upload/", views_verify.verify_upload, name="upload"),
    path("<str:code>", views_verify.verify_code, name="code"),
    path("<str:code>/", views_verify.verify_code),
]
