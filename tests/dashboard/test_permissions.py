"""Who may see the dashboard and start refreshes: anonymous users go to the login page,
users who are not staff are refused, staff need ``esi_dashboard.view_dashboard`` (and
``esi.change_token`` to refresh), and every state change is a CSRF-checked POST."""

import pytest
from django.contrib.auth.models import User
from django.test import Client

from .conftest import BUDGETS, CSV, HEALTH, PAGES, SCOPES, grant

POSTS = [HEALTH + "refresh-expired/", HEALTH + "count-scopes/"]


@pytest.mark.parametrize("url", PAGES + [CSV, HEALTH + "tasks/" + "a" * 32 + "/"])
def test_anonymous_users_go_to_the_login_page(client, db, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/?next=")


@pytest.mark.parametrize("url", POSTS)
def test_anonymous_posts_go_to_the_login_page(client, db, url):
    response = client.post(url)
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


@pytest.mark.parametrize("url", PAGES + POSTS)
def test_users_who_are_not_staff_are_refused(client, db, url):
    # Even holding the permission: the admin is for staff only.
    user = grant(User.objects.create_user("pilot"), "esi_dashboard.view_dashboard", "esi.change_token")
    client.force_login(user)
    response = client.post(url) if url in POSTS else client.get(url)
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    login_page = client.get(response["Location"])
    assert "not authorized to access this page" in login_page.content.decode()


@pytest.mark.parametrize("url", PAGES + [CSV])
def test_staff_without_the_view_permission_are_refused(client, db, url):
    client.force_login(User.objects.create_user("clerk", is_staff=True))
    assert client.get(url).status_code == 403


@pytest.mark.parametrize("url", POSTS)
def test_staff_without_the_view_permission_cannot_start_tasks(client, db, url):
    client.force_login(grant(User.objects.create_user("clerk", is_staff=True), "esi.change_token"))
    assert client.post(url).status_code == 403


def test_refreshing_needs_the_change_permission(client, db):
    viewer = grant(User.objects.create_user("viewer", is_staff=True), "esi_dashboard.view_dashboard")
    client.force_login(viewer)
    page = client.get(HEALTH).content.decode()
    assert "Refresh expired tokens" not in page
    assert client.post(HEALTH + "refresh-expired/").status_code == 403
    # Counting scopes only reads: the view permission is enough.
    assert client.post(HEALTH + "count-scopes/").status_code == 302


@pytest.mark.parametrize("url", PAGES)
def test_staff_with_the_permission_see_every_page(staff_client, url):
    response = staff_client.get(url)
    assert response.status_code == 200
    body = response.content.decode()
    # Inside the admin's look: its stylesheet, header and breadcrumbs.
    assert "admin/css/base.css" in body and 'id="site-name"' in body and 'class="breadcrumbs"' in body
    assert response.context["site_header"] == "Django administration"


def test_superusers_see_the_dashboard(admin_client):
    assert admin_client.get(HEALTH).status_code == 200


@pytest.mark.parametrize("url", POSTS)
def test_state_changes_are_posts_only(staff_client, url):
    assert staff_client.get(url).status_code == 405


@pytest.mark.parametrize("url", POSTS)
def test_posts_need_the_csrf_token(staff, url):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(staff)
    assert browser.post(url).status_code == 403
    page = browser.get(HEALTH if "refresh" in url else SCOPES)
    token = page.context["csrf_token"]
    assert browser.post(url, {"csrfmiddlewaretoken": str(token)}).status_code == 302


def test_task_status_is_read_only(staff_client):
    assert staff_client.post(HEALTH + "tasks/" + "a" * 32 + "/").status_code == 405


def test_admin_index_links_the_dashboard_for_those_allowed(client, staff_client, db):
    index = staff_client.get("/admin/").content.decode()
    assert 'href="/admin/esi_dashboard/dashboard/"' in index
    assert "Token deletions" not in index  # no permission to view them
    clerk = User.objects.create_user("clerk", is_staff=True)
    client.force_login(clerk)
    assert "/admin/esi_dashboard/dashboard/" not in client.get("/admin/").content.decode()


def test_app_index_and_tabs(staff_client):
    body = staff_client.get("/admin/esi_dashboard/").content.decode()
    assert 'href="/admin/esi_dashboard/dashboard/"' in body
    page = staff_client.get(BUDGETS).content.decode()
    for url in PAGES:
        assert f'href="{url}"' in page
    assert 'aria-current="page"' in page


def test_the_deletions_card_links_the_list_for_those_allowed(staff_client, staff, client):
    assert "/admin/esi_dashboard/tokendeletion/" not in staff_client.get(HEALTH).content.decode()
    client.force_login(grant(staff, "esi_dashboard.view_tokendeletion"))
    assert 'href="/admin/esi_dashboard/tokendeletion/"' in client.get(HEALTH).content.decode()
    assert client.get("/admin/esi_dashboard/tokendeletion/").status_code == 200
