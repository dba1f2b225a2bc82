from django.urls import include, path

urlpatterns = [path("sso/", include("esi.urls"))]
