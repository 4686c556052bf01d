from django.contrib import admin
from django.urls import include, path

from madoguchi.api.v1 import api as api_v1
from madoguchi.ops.views import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("api/v1/", api_v1.urls),
    path("console/", include("madoguchi.console.urls")),
    path("operator-admin/", admin.site.urls),
    path("", include("madoguchi.portal.urls")),
]
