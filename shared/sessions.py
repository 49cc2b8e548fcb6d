"""Server-side ending of tokens and sessions before their expiry.

A token (bearer or session cookie) is a signed JWT that would stay valid until ``exp``.
Two records in the platform database end it sooner:

- ``users.sessions_valid_after``: "log out everywhere" sets it to now, which refuses every
  token of the user issued before (compared at millisecond precision, claim ``ims``);
- ``revoked_sessions``: "log out" puts the token's ``jti`` there until it would expire.

Every authenticated request asks ``is_revoked``. The answer is cached for
``CACHE_SECONDS`` per token, so a busy page costs one small query every few seconds; a
revocation made in this process clears the cache at once, one made in another process
(proxy or container deployment) takes effect within ``CACHE_SECONDS``.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

from sqlalchemy import delete, select

from shared.db import Database, utcnow
from shared.platform import RevokedSession, User

CACHE_SECONDS = 3.0
_CACHE_MAX = 20_000
# (user id, jti) -> (monotonic time until which the answer holds, revoked)
_cache: dict[tuple[uuid.UUID, str], tuple[float, bool]] = {}


def _remember(key: tuple[uuid.UUID, str], revoked: bool) -> None:
    if len(_cache) >= _CACHE_MAX:
        _cache.pop(next(iter(_cache)))
    _cache[key] = (time.monotonic() + CACHE_SECONDS, revoked)


def _forget_user(user_id: uuid.UUID) -> None:
    for key in [k for k in _cache if k[0] == user_id]:
        _cache.pop(key, None)


async def is_revoked(db: Database, user_id: uuid.UUID, jti: str, issued_ms: int) -> bool:
    """Whether the token ``jti`` of ``user_id``, issued at ``issued_ms`` (ms since the
    epoch), has been ended by a logout, a logout everywhere or the account's deactivation."""
    key = (user_id, jti)
    cached = _cache.get(key)
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    async with db.session() as s:
        row = (await s.execute(select(User.sessions_valid_after, User.active).where(User.id == user_id))).one_or_none()
        denied = bool(jti) and (await s.get(RevokedSession, jti)) is not None
    if row is None or not row.active:
        revoked = True
    else:
        valid_after: datetime | None = row.sessions_valid_after
        revoked = denied or (valid_after is not None and issued_ms < _ms(valid_after))
    _remember(key, revoked)
    return revoked


async def revoke(db: Database, user_id: uuid.UUID, jti: str, expires_at: int) -> None:
    """End one token (logout), keeping its id until it would have expired anyway."""
    if not jti:
        return
    now = utcnow()
    async with db.session() as s, s.begin():
        await s.execute(delete(RevokedSession).where(RevokedSession.expires_at < now))  # tidy as we go
        if await s.get(RevokedSession, jti) is None:
            s.add(RevokedSession(jti=jti, user_id=user_id, expires_at=datetime.fromtimestamp(expires_at, UTC)))
    _remember((user_id, jti), True)


async def revoke_all(db: Database, user_id: uuid.UUID) -> datetime:
    """End every token and session of the user issued until now (log out everywhere)."""
    now = utcnow()
    async with db.session() as s, s.begin():
        user = await s.get(User, user_id)
        if user is not None:
            user.sessions_valid_after = now
    _forget_user(user_id)
    return now


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)
