from django.urls import path

from madoguchi.console import (
    urls_admin,
    urls_counter,
    urls_documents,
    urls_exports,
    urls_facilities,
    urls_imports,
    urls_lotteries,
    urls_members,
    urls_proofing,
    urls_review,
    urls_tokens,
    urls_webhooks,
    views,
    views_catalog,
    views_classification,
    views_notices,
    views_operations,
    views_statistics,
)

app_name = "console"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("groups/<slug:slug>/", views.group, name="group"),
    path(
        "groups/<slug:slug>/operations/",
        views_operations.group_operations,
        name="group_operations",
    ),
    path("settings/notices/", views_notices.notice_settings, name="notice_settings"),
    path("procedures/", views_catalog.procedures, name="procedures"),
    path("procedures/new/", views_catalog.procedure_new, name="procedure_new"),
    path(
        "procedures/classification/",
        views_classification.classification_list,
        name="classification",
    ),
    path(
        "procedures/<int:procedure_id>/classification/",
        views_classification.classification_edit,
        name="classification_edit",
    ),
    path("procedures/<int:procedure_id>/", views_catalog.procedure_detail, name="procedure"),
    path(
        "procedures/<int:procedure_id>/test/",
        views_catalog.procedure_test,
        name="procedure_test",
    ),
    path(
        "procedures/<int:procedure_id>/upgrade/",
        views_catalog.procedure_upgrade_view,
        name="procedure_upgrade",
    ),
    path(
        "procedures/<int:procedure_id>/preview/",
        views_catalog.procedure_preview,
        name="procedure_preview",
    ),
    path(
        "procedures/<int:procedure_id>/preview/live/",
        views_catalog.procedure_preview_live,
        name="procedure_preview_live",
    ),
    path("templates/", views_catalog.templates, name="templates"),
    path("library/", views_catalog.library, name="library"),
    path("library/publish/", views_catalog.library_publish, name="library_publish"),
    path(
        "library/<int:template_id>/", views_catalog.library_template, name="library_template"
    ),
    path(
        "library/<int:template_id>/adopt/", views_catalog.library_adopt, name="library_adopt"
    ),
    # Imports first: "statistics/imports/" is not an organisation code.
    *urls_imports.urlpatterns,
    path("statistics/", views_statistics.statistics_home, name="statistics_home"),
    path("statistics/<str:code>/", views_statistics.statistics_monthly, name="statistics"),
    path("templates/<slug:slug>/adopt/", views_catalog.template_adopt, name="template_adopt"),
    *urls_review.urlpatterns,
    *urls_counter.urlpatterns,
    *urls_admin.urlpatterns,
    *urls_exports.urlpatterns,
    *urls_tokens.urlpatterns,
    *urls_lotteries.urlpatterns,
    *urls_webhooks.urlpatterns,
    *urls_proofing.urlpatterns,
    *urls_facilities.urlpatterns,
    *urls_members.urlpatterns,
    *urls_documents.urlpatterns,
]
