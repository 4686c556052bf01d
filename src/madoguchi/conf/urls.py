from django.contrib import admin
from django.urls import include, path

from madoguchi.api.v1 import api as api_v1
from madoguchi.ops.views import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("api/v1/", api_v1.urls),
    path("console/", include("madoguchi.console.urls")),
    path("operator-admin/", admin.site.urls),
    # set_language (POST /i18n/setlang/): the header's language switch; Japanese stays the default.
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("madoguchi.portal.urls")),
]
