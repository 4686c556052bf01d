"""Console URLs: the second factor and the organisation admin's pages (included from
console/urls.py under the "console" namespace)."""

from django.urls import URLPattern, path

from madoguchi.console import views_admin, views_mfa

urlpatterns: list[URLPattern] = [
    path("login/code/", views_mfa.login_code, name="login_code"),
    path("login/recovery/", views_mfa.login_recovery, name="login_recovery"),
    path("login/enrol/", views_mfa.login_enrol, name="login_enrol"),
    path("invitation/<str:token>/", views_admin.invitation, name="invitation"),
    path("admin/staff/", views_admin.staff_list, name="admin_staff"),
    path("admin/staff/invite/", views_admin.staff_invite_view, name="admin_staff_invite"),
    path("admin/staff/<int:staff_id>/role/", views_admin.staff_role_view, name="admin_staff_role"),
    path(
        "admin/staff/<int:staff_id>/signoff/",
        views_admin.staff_signoff_view,
        name="admin_staff_signoff",
    ),
    path(
        "admin/staff/<int:staff_id>/active/",
        views_admin.staff_active_view,
        name="admin_staff_active",
    ),
    path(
        "admin/staff/<int:staff_id>/totp-reset/",
        views_admin.staff_totp_reset_view,
        name="admin_staff_totp_reset",
    ),
    path("admin/procedures/", views_admin.procedures_reviewers, name="admin_procedures"),
    path(
        "admin/procedures/<int:procedure_id>/reviewers/",
        views_admin.procedure_reviewers,
        name="admin_procedure_reviewers",
    ),
    path("admin/audit/", views_admin.audit_log, name="admin_audit"),
    path("admin/contact/", views_admin.contact_settings, name="admin_contact"),
    path("admin/jpki/", views_admin.jpki_settings, name="admin_jpki"),
    path("admin/jpki/crl/", views_admin.jpki_crl_upload, name="admin_jpki_crl"),
    path("admin/jpki/revocation/", views_admin.jpki_revocation_view, name="admin_jpki_revocation"),
]
