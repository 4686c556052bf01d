from django.urls import include, path

from madoguchi.api.v1 import api as api_v1
from madoguchi.ops.admin import site as operator_admin
from madoguchi.ops.metrics import metrics
from madoguchi.ops.views import favicon, healthz, readyz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    # Prometheus; 404 unless MADOGUCHI_METRICS_TOKEN/_NETWORKS (or loopback outside production).
    path("metrics", metrics, name="metrics"),
    # Browsers ask for /favicon.ico whatever the page says: answer with the icon, not a 404.
    path("favicon.ico", favicon, name="favicon"),
    path("api/v1/", api_v1.urls),
    path("console/", include("madoguchi.console.urls")),
    # The operators' admin site: the console's login (both factors, throttled), audited.
    path("operator-admin/", operator_admin.urls),
    # set_language (POST /i18n/setlang/): the header's language switch; Japanese stays the default.
    path("i18n/", include("django.conf.urls.i18n")),
    # The demo identity provider (national login and signing, gBizID): 404 in production.
    path("demo-idp/", include("madoguchi.demo_idp.urls")),
    # Online usage statistics (オンライン利用率): public pages and open data.
    path("statistics/", include("madoguchi.portal.urls_statistics")),
    path("", include("madoguchi.portal.urls")),
]
