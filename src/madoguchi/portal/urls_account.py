"""Resident accounts: sign-up, e-mail verification, login, password reset, profile."""

from django.urls import path

from madoguchi.portal import views_account as views
from madoguchi.portal import views_identity, views_oidc

app_name = "account"

urlpatterns = [
    path("signup/", views.signup, name="signup"),
    path("signup/sent/", views.signup_sent, name="signup_sent"),
    path("verify/resend/", views.verification_resend, name="verify_resend"),
    path("verify/<str:token>/", views.verify, name="verify"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("login/passkey/", views_identity.login_passkey, name="login_passkey"),
    path("login/passkey/options/", views_identity.login_options, name="login_passkey_options"),
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
    path("identity/", views_identity.identity, name="identity"),
    path(
        "identity/links/<int:link_id>/remove/",
        views_identity.identity_unlink,
        name="identity_unlink",
    ),
    path("passkeys/", views_identity.passkey_list, name="passkeys"),
    path("passkeys/password/", views_identity.passkey_reauth, name="passkey_reauth"),
    path("passkeys/options/", views_identity.passkey_options, name="passkey_options"),
    path("passkeys/<int:passkey_id>/rename/", views_identity.passkey_rename, name="passkey_rename"),
    path("passkeys/<int:passkey_id>/delete/", views_identity.passkey_delete, name="passkey_delete"),
    # National login, gBizID and signing through the national app (OpenID Connect).
    path("oidc/link/", views_oidc.oidc_link, name="oidc_link"),
    path("oidc/national/sign/callback/", views_oidc.oidc_sign_callback, name="oidc_sign_callback"),
    path(
        "oidc/national/sign/<str:code>/<int:procedure_id>/",
        views_oidc.oidc_sign,
        name="oidc_sign",
    ),
    path("oidc/<str:provider>/login/", views_oidc.oidc_login, name="oidc_login"),
    path("oidc/<str:provider>/callback/", views_oidc.oidc_callback, name="oidc_callback"),
]
