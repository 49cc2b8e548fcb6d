from __future__ import annotations

import time
import uuid

import jwt
import pytest

from shared.auth import TokenService
from shared.contracts.journey import Role
from shared.identity import Account
from shared.problems import ProblemError

ACCOUNT = Account(
    id=uuid.uuid4(),
    username="kaisa",
    role=Role.COACH,
    organisation_id=uuid.uuid4(),
    region_id="kymenlaakso",
    display_name=None,
    fte=1.0,
)


def test_access_token_roundtrip() -> None:
    svc = TokenService(b"k" * 32, 60, 60)
    p = svc.decode(svc.access_token(ACCOUNT), "access")
    assert (p.user_id, p.role, p.organisation_id, p.region_id) == (
        ACCOUNT.id,
        Role.COACH,
        ACCOUNT.organisation_id,
        "kymenlaakso",
    )


def test_expired_token_is_401_with_code() -> None:
    svc = TokenService(b"k" * 32, -5, 60)
    with pytest.raises(ProblemError) as e:
        svc.decode(svc.access_token(ACCOUNT), "access")
    assert e.value.status == 401 and e.value.code == "token_expired"


def test_forged_token_is_401() -> None:
    svc = TokenService(b"k" * 32, 60, 60)
    forged = jwt.encode(
        {
            "sub": str(ACCOUNT.id),
            "org": str(uuid.uuid4()),
            "role": "team_lead",
            "typ": "access",
            "iat": int(time.time()),
            "exp": int(time.time()) + 60,
        },
        b"another-key-of-32-bytes-length!!",
        algorithm="HS256",
    )
    with pytest.raises(ProblemError) as e:
        svc.decode(forged, "access")
    assert e.value.status == 401 and e.value.code == "token_invalid"


def test_none_algorithm_is_refused() -> None:
    svc = TokenService(b"k" * 32, 60, 60)
    unsigned = jwt.encode(
        {
            "sub": str(ACCOUNT.id),
            "org": str(ACCOUNT.organisation_id),
            "role": "coach",
            "typ": "access",
            "iat": int(time.time()),
            "exp": int(time.time()) + 60,
        },
        None,
        algorithm="none",
    )
    with pytest.raises(ProblemError):
        svc.decode(unsigned, "access")


def test_session_token_is_not_an_access_token() -> None:
    svc = TokenService(b"k" * 32, 60, 60)
    session, csrf = svc.session_token(ACCOUNT)
    assert svc.decode(session, "session").csrf == csrf
    with pytest.raises(ProblemError):
        svc.decode(session, "access")
