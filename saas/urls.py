from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularRedocView

from core.api.schema_view import CachedSchemaView
from core.login_throttle import throttled_admin_login
from saas.health import healthz, healthz_details

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("healthz/details", healthz_details, name="healthz-details"),
    path("v1/openapi.json", CachedSchemaView.as_view(), name="openapi"),
    path("docs/", SpectacularRedocView.as_view(url_name="openapi"), name="docs"),
    path("v1/", include("tenants.urls")),
    path("v1/", include("billing.urls")),
    path("v1/", include("inference.urls")),
    path("v1/", include("training.urls")),
    # Before the admin's own: the same URL, its log-in behind the throttle.
    path("admin/login/", throttled_admin_login(admin.site)),
    path("admin/", admin.site.urls),
]
