from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("sso/", include("esi.urls", namespace="esi")),
    path("", include("demo.urls", namespace="demo")),
]
