"""Resident accounts: sign-up, e-mail verification, login, password reset, profile."""

from django.urls import path

from madoguchi.portal import views_account as views
from madoguchi.portal import views_identity

app_name = "account"

urlpatterns = [
    path("signup/", views.signup, name="signup"),
    path("signup/sent/", views.signup_sent, name="signup_sent"),
    path("verify/resend/", views.verification_resend, name="verify_resend"),
    path("verify/<str:token>/", views.verify, name="verify"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("password/reset/", views.password_reset, name="password_reset"),
    path(
        "password/reset/sent/",
        views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "password/reset/<str:uidb64>/<str:token>/",
        views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password/reset/complete/",
        views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("profile/", views.profile, name="profile"),
    path("profile/edit/", views.profile_edit, name="profile_edit"),
    path("delete/", views.delete, name="delete"),
    path("tokens/", views.tokens, name="tokens"),
    # National login, gBizID and signing through the national app (OpenID Connect).
    path("oidc/link/", views_identity.oidc_link, name="oidc_link"),
    path(
        "oidc/national/sign/callback/", views_identity.oidc_sign_callback, name="oidc_sign_callback"
    ),
    path(
        "oidc/national/sign/<str:code>/<int:procedure_id>/",
        views_identity.oidc_sign,
        name="oidc_sign",
    ),
    path("oidc/<str:provider>/login/", views_identity.oidc_login, name="oidc_login"),
    path("oidc/<str:provider>/callback/", views_identity.oidc_callback, name="oidc_callback"),
]
