"""Failed admin log-ins are throttled per client address and per username; a locked
out attempt checks no password and gets the form back with the reason (429)."""

import secrets

import pytest
from django.contrib.auth import signals
from django.test import Client, override_settings

from tenants.models import User

PASSWORD = "correct horse battery staple"


@pytest.fixture
def staff(db):
    return User.objects.create_user(
        email=f"staff{secrets.token_hex(4)}@example.com", password=PASSWORD, is_staff=True
    )


@pytest.fixture
def address() -> str:
    return f"198.51.{secrets.randbelow(256)}.{secrets.randbelow(256)}"


@pytest.fixture
def password_checks(monkeypatch):
    """How many log-in attempts reached a password check."""
    checked = []
    signals.user_login_failed.connect(
        lambda **kw: checked.append("failed"), weak=False, dispatch_uid="count-failed"
    )
    signals.user_logged_in.connect(
        lambda **kw: checked.append("ok"), weak=False, dispatch_uid="count-ok"
    )
    yield checked
    signals.user_login_failed.disconnect(dispatch_uid="count-failed")
    signals.user_logged_in.disconnect(dispatch_uid="count-ok")


def _log_in(email: str, password: str, address: str):
    return Client(REMOTE_ADDR=address).post(
        "/admin/login/?next=/admin/", {"username": email, "password": password}
    )


@override_settings(LOGIN_FAILURES_PER_USERNAME=3, LOGIN_FAILURES_PER_IP=100)
def test_a_username_is_locked_after_its_failures_even_from_new_addresses(
    staff, password_checks, address
):
    for _ in range(3):
        assert _log_in(staff.email, "wrong", address).status_code == 200  # the form again
    locked = _log_in(staff.email, PASSWORD, "192.0.2.99")  # right password, other address
    assert locked.status_code == 429
    assert int(locked["Retry-After"]) >= 1
    assert b"Too many failed log-ins" in locked.content
    assert password_checks == ["failed"] * 3  # the locked attempt checked nothing


@override_settings(LOGIN_FAILURES_PER_USERNAME=100, LOGIN_FAILURES_PER_IP=3)
def test_an_address_is_locked_after_its_failures_whatever_the_username(staff, address):
    for n in range(3):
        assert _log_in(f"nobody{n}@example.com", "wrong", address).status_code == 200
    assert _log_in(staff.email, PASSWORD, address).status_code == 429
    assert _log_in(staff.email, PASSWORD, "192.0.2.98").status_code == 302


@override_settings(LOGIN_FAILURES_PER_USERNAME=2, LOGIN_FAILURES_PER_IP=100)
def test_successful_log_ins_do_not_count(staff, address):
    for _ in range(4):
        assert _log_in(staff.email, PASSWORD, address).status_code == 302
    assert _log_in(staff.email, "wrong", address).status_code == 200


def test_the_log_in_form_still_renders(db):
    response = Client().get("/admin/login/")
    assert response.status_code == 200 and b'name="password"' in response.content
