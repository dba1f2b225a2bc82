from django.urls import path

from . import views

app_name = "demo"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.sso_login, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("token/", views.show_token, name="token"),
]
