"""Sessions end when they should: at expiry, at logout (that session only) and at "log out
everywhere" (every session and token of the user), checked on the whole stack."""

from __future__ import annotations

import base64
import json
import re
import time
from contextlib import closing

import httpx
import pytest

from shared.auth import SESSION_COOKIE, TokenService
from shared.contracts.journey import Role
from shared.identity import Account
from shared.keys import load_keys
from shared.sessions import CACHE_SECONDS
from tests.conftest import PASSWORD, Live, Org


def _csrf(session: httpx.Client) -> str:
    payload = session.cookies[SESSION_COOKIE].split(".")[1]
    return str(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["csrf"])


def _token(live: Live, org: Org, role: Role = Role.COACH) -> str:
    r = httpx.post(
        f"{live.base_url}/api/v1/auth/token",
        json={"username": live.username(org, role), "password": PASSWORD},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


def _me(live: Live, token: str) -> int:
    r = httpx.get(f"{live.base_url}/api/v1/me", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    return r.status_code


def _logged_in(session: httpx.Client) -> bool:
    r = session.get("/")
    assert r.status_code in (200, 303), r.text
    return r.status_code == 200


def _replay(live: Live, cookie: str, path: str = "/") -> httpx.Response:
    """A request carrying an old session cookie, as an attacker who copied it would send."""
    with httpx.Client(base_url=live.base_url, timeout=30, cookies={SESSION_COOKIE: cookie}) as http:
        return http.get(path)


@pytest.fixture()
def org(live: Live) -> Org:
    return live.add_org()


def test_logout_everywhere_ends_every_session_and_token(live: Live, org: Org) -> None:
    with (
        closing(live.browser_session(org, Role.COACH)) as laptop,
        closing(live.browser_session(org, Role.COACH)) as phone,
    ):
        token = _token(live, org)
        other_user = _token(live, org, Role.TEAM_LEAD)
        old_cookie = laptop.cookies[SESSION_COOKIE]
        assert _logged_in(laptop) and _logged_in(phone) and _me(live, token) == 200

        r = httpx.post(
            f"{live.base_url}/api/v1/auth/logout-all", headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        assert r.status_code == 204, r.text

        assert _me(live, token) == 401  # the token that asked
        assert not _logged_in(laptop) and not _logged_in(phone)  # both browsers: the login page
        replay = _replay(live, old_cookie)
        assert replay.status_code == 303 and replay.headers["location"].startswith("/login")
        # The old cookie is refused by the API of another service, too.
        with httpx.Client(base_url=live.base_url, timeout=30, cookies={SESSION_COOKIE: old_cookie}) as http:
            api = http.get("/api/v1/clients")
            assert api.status_code == 401, api.text
            assert api.json()["code"] == "session_ended"
        assert _me(live, other_user) == 200  # another user is not affected

    # Logging in again works at once.
    assert _me(live, _token(live, org)) == 200
    with closing(live.browser_session(org, Role.COACH)) as again:
        assert _logged_in(again)


def test_logout_ends_only_that_session_and_its_cookie_stays_dead(live: Live, org: Org) -> None:
    with (
        closing(live.browser_session(org, Role.COACH)) as laptop,
        closing(live.browser_session(org, Role.COACH)) as phone,
    ):
        old_cookie = laptop.cookies[SESSION_COOKIE]
        r = laptop.post("/logout", data={"csrf_token": _csrf(laptop)})
        assert r.status_code == 303 and r.headers["location"] == "/login"
        replay = _replay(live, old_cookie)  # the cookie was copied before the logout
        assert replay.status_code == 303 and replay.headers["location"].startswith("/login")
        assert _logged_in(phone)


def test_logout_everywhere_button_in_the_header(live: Live, org: Org) -> None:
    with (
        closing(live.browser_session(org, Role.AUDITOR)) as laptop,
        closing(live.browser_session(org, Role.AUDITOR)) as phone,
    ):
        page = laptop.get("/")
        assert page.status_code == 200
        assert re.search(
            r'<button type="submit" name="everywhere" value="1">Kirjaudu ulos kaikkialta</button>', page.text
        )
        r = laptop.post("/logout", data={"csrf_token": _csrf(laptop), "everywhere": "1"})
        assert r.status_code == 303 and r.headers["location"] == "/login"
        assert not _logged_in(phone)


def test_logout_needs_the_csrf_token(live: Live, org: Org) -> None:
    with closing(live.browser_session(org, Role.COACH)) as session:
        r = session.post("/logout", data={"csrf_token": "forged", "everywhere": "1"})
        assert r.status_code == 403
        assert _logged_in(session)


def test_api_logout_ends_that_token_only(live: Live, org: Org) -> None:
    first, second = _token(live, org), _token(live, org)
    r = httpx.post(f"{live.base_url}/api/v1/auth/logout", headers={"Authorization": f"Bearer {first}"}, timeout=30)
    assert r.status_code == 204
    assert _me(live, first) == 401
    assert _me(live, second) == 200


def test_an_expired_session_is_refused(live: Live, org: Org) -> None:
    # A session issued under a short session TTL (the setting), signed with the stack's
    # own key, is refused once the time has passed.
    settings = live.settings.model_copy(update={"session_ttl_seconds": 4, "token_ttl_seconds": 4})
    keys = load_keys(settings)
    tokens = TokenService(keys.secret_key, settings.token_ttl_seconds, settings.session_ttl_seconds)
    account = Account(
        id=org.users[Role.COACH.value],
        username=live.username(org, Role.COACH),
        role=Role.COACH,
        organisation_id=org.id,
        region_id=org.region,
        display_name=None,
        fte=1.0,
    )
    cookie, _csrf_value = tokens.session_token(account)
    access = tokens.access_token(account)
    issued = time.time()
    assert _me(live, access) == 200  # valid while fresh
    assert _replay(live, cookie).status_code == 200
    assert time.time() - issued < 3.5, "too slow to see the fresh session valid"
    time.sleep(max(0.0, issued + 5.1 - time.time()))
    expired = _replay(live, cookie)
    assert expired.status_code == 303 and expired.headers["location"].startswith("/login")
    assert _me(live, access) == 401
    with httpx.Client(base_url=live.base_url, timeout=30, cookies={SESSION_COOKIE: cookie}) as http:
        r = http.get("/api/v1/me")
        assert r.status_code == 401 and r.json()["code"] == "token_expired"


def test_a_deactivated_user_is_refused_at_once(live: Live, org: Org) -> None:
    from sqlalchemy import update

    from shared.db import Database
    from shared.platform import User
    from tests.conftest import run_sync

    token = _token(live, org, Role.EMPLOYER_COORDINATOR)
    assert _me(live, token) == 200

    async def deactivate() -> None:
        db = Database(live.settings, "platform", immediate=True)
        try:
            async with db.session() as s, s.begin():
                await s.execute(
                    update(User).where(User.id == org.users[Role.EMPLOYER_COORDINATOR.value]).values(active=False)
                )
        finally:
            await db.dispose()

    run_sync(deactivate())
    time.sleep(CACHE_SECONDS + 0.2)  # another process changed it: the answer is cached this long
    assert _me(live, token) == 401
