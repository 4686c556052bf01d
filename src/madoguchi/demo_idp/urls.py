"""The demo identity provider, at ``/demo-idp/<national|gbizid>/`` (404 in production)."""

from django.urls import path

from madoguchi.demo_idp import views

app_name = "demo_idp"

urlpatterns = [
    path(
        "<str:flavour>/.well-known/openid-configuration",
        views.discovery,
        name="discovery",
    ),
    path("<str:flavour>/jwks", views.jwks, name="jwks"),
    path("<str:flavour>/authorize", views.authorize, name="authorize"),
    path("<str:flavour>/token", views.token, name="token"),
    path("<str:flavour>/userinfo", views.userinfo, name="userinfo"),
    path("<str:flavour>/sign/request", views.sign_request, name="sign_request"),
    path("<str:flavour>/sign/result", views.sign_result, name="sign_result"),
]
