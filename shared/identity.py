"""Organisations and user accounts (local accounts with argon2 password hashes)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select

from shared.contracts.journey import Role
from shared.db import Database, utcnow
from shared.platform import Organisation, Team, User

_hasher = PasswordHasher()
# Verifying against this keeps a wrong username as slow as a wrong password.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


class IdentityError(ValueError):
    pass


@dataclass(frozen=True)
class Account:
    id: uuid.UUID
    username: str
    role: Role
    organisation_id: uuid.UUID
    region_id: str
    display_name: str | None
    fte: float
    team_id: uuid.UUID | None = None


class LoginLocked(Exception):
    """Too many failed logins: try again after ``retry_after`` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"locked for {retry_after} s")
        self.retry_after = retry_after


class Identity:
    def __init__(self, platform: Database, max_failures: int = 5, lockout_s: int = 900) -> None:
        self._db = platform
        self.max_failures, self.lockout_s = max_failures, lockout_s
        self._unknown: dict[str, tuple[int, datetime | None]] = {}

    async def add_organisation(self, name: str, region_id: str) -> uuid.UUID:
        if not name.strip() or not region_id.strip():
            raise IdentityError("organisation name and region are required")
        async with self._db.session() as s, s.begin():
            org = Organisation(id=uuid.uuid4(), name=name.strip(), region_id=region_id.strip())
            s.add(org)
        return org.id

    async def organisation(self, org_id: uuid.UUID) -> Organisation | None:
        async with self._db.session() as s:
            return await s.get(Organisation, org_id)

    async def organisations(self) -> list[Organisation]:
        async with self._db.session() as s:
            return list((await s.execute(select(Organisation).order_by(Organisation.name))).scalars())

    async def add_user(
        self,
        org_id: uuid.UUID,
        username: str,
        password: str,
        role: Role,
        *,
        display_name: str | None = None,
        fte: float = 1.0,
        team_id: uuid.UUID | None = None,
    ) -> uuid.UUID:
        username = username.strip()
        if not username or len(username) > 100:
            raise IdentityError("username must be 1-100 characters")
        if len(password) < 8:
            raise IdentityError("password must be at least 8 characters")
        if not 0 < fte <= 1.0:
            raise IdentityError("fte must be above 0 and at most 1")
        if team_id is not None and team_id not in {t.id for t in await self.teams(org_id)}:
            raise IdentityError(f"no team {team_id} in organisation {org_id}")
        async with self._db.session() as s, s.begin():
            if await s.get(Organisation, org_id) is None:
                raise IdentityError(f"no organisation {org_id}")
            taken = await s.scalar(select(func.count()).select_from(User).where(User.username == username))
            if taken:
                raise IdentityError(f"username {username!r} is taken")
            user = User(
                id=uuid.uuid4(),
                organisation_id=org_id,
                username=username,
                password_hash=await asyncio.to_thread(_hasher.hash, password),
                role=role.value,
                display_name=display_name,
                fte=fte,
                team_id=team_id,
            )
            s.add(user)
        return user.id

    async def _account(self, user: User) -> Account:
        async with self._db.session() as s:
            org = await s.get(Organisation, user.organisation_id)
        assert org is not None
        return Account(
            id=user.id,
            username=user.username,
            role=Role(user.role),
            organisation_id=user.organisation_id,
            region_id=org.region_id,
            display_name=user.display_name,
            fte=user.fte,
            team_id=user.team_id,
        )

    async def authenticate(self, username: str, password: str) -> Account | None:
        """The account, or None for a wrong username or password.

        After ``max_failures`` wrong passwords in a row the account locks for
        ``lockout_s``; while locked, even the right password is refused
        (``LoginLocked``), so guessing stops. Unknown usernames are counted the same way
        (in memory), so a lock tells nothing about which usernames exist.
        """
        now = utcnow()
        async with self._db.session() as s, s.begin():
            user = (await s.execute(select(User).where(User.username == username))).scalar_one_or_none()
            if user is None or not user.active:
                self._unknown_failure(username, now)
                with contextlib.suppress(VerificationError):
                    await asyncio.to_thread(_hasher.verify, _DUMMY_HASH, password)
                return None
            if user.locked_until is not None and user.locked_until > now:
                raise LoginLocked(int((user.locked_until - now).total_seconds()) + 1)
            try:
                # argon2 is deliberately slow: keep it off the event loop.
                await asyncio.to_thread(_hasher.verify, user.password_hash, password)
            except (VerificationError, InvalidHashError):
                user.failed_logins += 1
                if user.failed_logins >= self.max_failures:
                    user.failed_logins = 0
                    user.locked_until = now + timedelta(seconds=self.lockout_s)
                return None
            user.failed_logins, user.locked_until = 0, None
        return await self._account(user)

    def _unknown_failure(self, username: str, now: datetime) -> None:
        count, until = self._unknown.get(username, (0, None))
        if until is not None and until > now:
            raise LoginLocked(int((until - now).total_seconds()) + 1)
        count += 1
        if count >= self.max_failures:
            self._unknown[username] = (0, now + timedelta(seconds=self.lockout_s))
        else:
            self._unknown[username] = (count, None)
        if len(self._unknown) > 10_000:  # bounded: forget the oldest
            self._unknown.pop(next(iter(self._unknown)))

    async def account(self, user_id: uuid.UUID) -> Account | None:
        async with self._db.session() as s:
            user = await s.get(User, user_id)
        if user is None or not user.active:
            return None
        return await self._account(user)

    async def users(self, org_id: uuid.UUID, role: Role | None = None) -> list[User]:
        async with self._db.session() as s:
            q = select(User).where(User.organisation_id == org_id, User.active.is_(True))
            if role is not None:
                q = q.where(User.role == role.value)
            return list((await s.execute(q.order_by(User.username))).scalars())

    # --- teams: coaches grouped under a team lead, within one organisation --------------

    async def add_team(self, org_id: uuid.UUID, name: str) -> uuid.UUID:
        name = name.strip()
        if not name or len(name) > 200:
            raise IdentityError("team name must be 1-200 characters")
        if await self.organisation(org_id) is None:
            raise IdentityError(f"no organisation {org_id}")
        async with self._db.session(organisation_id=org_id) as s, s.begin():
            if await s.scalar(select(func.count()).select_from(Team).where(Team.name == name)):
                raise IdentityError(f"team {name!r} exists already")
            team = Team(id=uuid.uuid4(), organisation_id=org_id, name=name)
            s.add(team)
        return team.id

    async def teams(self, org_id: uuid.UUID) -> list[Team]:
        """The organisation's teams by name (the session is scoped to the organisation)."""
        async with self._db.session(organisation_id=org_id) as s:
            return list((await s.execute(select(Team).order_by(Team.name))).scalars())

    async def team_by_name(self, org_id: uuid.UUID, name: str) -> Team | None:
        return next((t for t in await self.teams(org_id) if t.name == name.strip()), None)

    async def set_team(self, user_id: uuid.UUID, team_id: uuid.UUID | None) -> None:
        """Put a user in a team of their own organisation (None takes them out)."""
        async with self._db.session() as s:
            found = await s.get(User, user_id)
        if found is None:
            raise IdentityError(f"no user {user_id}")
        if team_id is not None and team_id not in {t.id for t in await self.teams(found.organisation_id)}:
            raise IdentityError(f"no team {team_id} in the user's organisation")
        async with self._db.session() as s, s.begin():
            user = await s.get(User, user_id)
            assert user is not None
            user.team_id = team_id
