"""Login throttling: repeated failures lock the account for a while, known or unknown."""

from __future__ import annotations

import uuid

import httpx

from shared.contracts.journey import Role
from tests.conftest import PASSWORD, Live


def _login(live: Live, username: str, password: str) -> httpx.Response:
    return httpx.post(f"{live.base_url}/api/v1/auth/token", json={"username": username, "password": password})


def test_five_failures_lock_the_account_even_for_the_right_password(live: Live) -> None:
    org = live.add_org(roles=(Role.COACH,))
    username = live.username(org, Role.COACH)
    for _ in range(5):
        assert _login(live, username, "wrong-password").status_code == 401
    locked = _login(live, username, PASSWORD)
    assert locked.status_code == 429
    assert locked.json()["code"] == "login_locked"
    assert 0 < int(locked.headers["retry-after"]) <= 900


def test_a_success_resets_the_count(live: Live) -> None:
    org = live.add_org(roles=(Role.COACH,))
    username = live.username(org, Role.COACH)
    for _ in range(4):
        assert _login(live, username, "wrong-password").status_code == 401
    assert _login(live, username, PASSWORD).status_code == 200
    for _ in range(4):
        assert _login(live, username, "wrong-password").status_code == 401
    assert _login(live, username, PASSWORD).status_code == 200


def test_unknown_usernames_lock_alike(live: Live) -> None:
    username = f"nobody-{uuid.uuid4().hex[:8]}"
    answers = [_login(live, username, "whatever-pass").status_code for _ in range(6)]
    assert answers == [401] * 5 + [429]
