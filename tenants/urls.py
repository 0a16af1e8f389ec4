from django.urls import path

from tenants.api import views

urlpatterns = [
    path("ping", views.Ping.as_view(), name="ping"),
    path("api-keys", views.ApiKeyListCreate.as_view(), name="api-keys"),
    path("api-keys/<str:key_id>", views.ApiKeyDetail.as_view(), name="api-key"),
]
