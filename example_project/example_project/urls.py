from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    # The admin, with the ESI dashboard at admin/esi_dashboard/dashboard/ (esi_dashboard
    # registers its pages on admin.site; no URL of its own to include).
    path("admin/", admin.site.urls),
    path("sso/", include("esi.urls", namespace="esi")),
    path("", include("demo.urls", namespace="demo")),
]
