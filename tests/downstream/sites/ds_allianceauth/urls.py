"""allianceauth's URLs plus the pages its navhelper tests link to (as upstream's tests/urls.py)."""

from django.http import HttpResponse
from django.urls import path

import allianceauth.urls


def page(request):
    return HttpResponse("page")


urlpatterns = allianceauth.urls.urlpatterns + [
    path("main-page/", page, name="p1"),
    path("main-page/sub-section/", page, name="p1-s1"),
    path("second-page/", page, name="p1"),
]
