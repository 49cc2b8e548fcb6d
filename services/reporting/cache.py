"""Region roll-ups, remembered until their data changes.

A roll-up reads every organisation of a region, so it is the heaviest report; its result
depends only on the events applied for those organisations and on their fidelity
reviews. It is kept under a key of exactly that state (each organisation's watermark
and newest review) and reused until one of them moves, or ``TTL_S`` passes (the few
parts measured against the clock, such as an outreach window still open, stay fresh).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import TypeVar

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.reporting.models import FidelityReview, Watermark
from services.reporting.store import Scope

T = TypeVar("T")
TTL_S = 60.0
SIZE = 64

_entries: OrderedDict[Hashable, tuple[float, object]] = OrderedDict()


async def data_state(session: AsyncSession, scope: Scope) -> tuple[object, ...]:
    """What the scope's reports depend on: events applied and reviews, per organisation."""
    w, r = Watermark, FidelityReview
    marks = (
        await session.execute(select(w.organisation_id, w.events, w.occurred_at).where(w.organisation_id.in_(scope)))
    ).all()
    reviews = (
        await session.execute(
            select(r.organisation_id, func.max(r.reviewed_at))
            .where(r.organisation_id.in_(scope))
            .group_by(r.organisation_id)
        )
    ).all()
    return (tuple(sorted(map(tuple, marks))), tuple(sorted(map(tuple, reviews))))


async def remembered(key: Hashable, compute: Callable[[], Awaitable[T]]) -> T:
    """``compute()``'s result for ``key``, reused for ``TTL_S`` seconds."""
    now = time.monotonic()
    hit = _entries.get(key)
    if hit is not None and now - hit[0] < TTL_S:
        _entries.move_to_end(key)
        return hit[1]  # type: ignore[return-value]
    value = await compute()
    _entries[key] = (now, value)
    _entries.move_to_end(key)
    while len(_entries) > SIZE:
        _entries.popitem(last=False)
    return value
