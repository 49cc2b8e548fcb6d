"""Organisation scoping.

Every table that holds an organisation's data mixes in ``TenantScoped``. A session is
opened for one organisation (``Database.session(organisation_id=...)``) and every ORM
query through it is filtered to that organisation automatically; a query on a scoped
table in a session without an organisation raises instead of returning everyone's rows.
Objects added to the session must belong to its organisation.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Mapped, ORMExecuteState, Session, mapped_column, with_loader_criteria

from shared.db import UUIDStr

CROSS_TENANT = "cross_tenant"  # session info flag for projections and admin jobs


class TenantScoped:
    organisation_id: Mapped[uuid.UUID] = mapped_column(UUIDStr, index=True)


class TenancyError(RuntimeError):
    pass


def _org_of(session: Session) -> uuid.UUID | None:
    org = session.info.get("organisation_id")
    return None if org is None else uuid.UUID(str(org))


@event.listens_for(Session, "do_orm_execute")
def _scope_queries(state: ORMExecuteState) -> None:
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if state.session.info.get(CROSS_TENANT):
        return
    mappers = [m for m in state.all_mappers if issubclass(m.class_, TenantScoped)]
    if not mappers:
        return
    org = _org_of(state.session)
    if org is None:
        raise TenancyError(f"query on {', '.join(m.class_.__name__ for m in mappers)} without an organisation scope")
    state.statement = state.statement.options(
        with_loader_criteria(
            TenantScoped,
            lambda cls: cls.organisation_id == org,
            include_aliases=True,
        )
    )


@event.listens_for(Session, "before_flush")
def _check_new_rows(session: Session, _ctx: Any, _instances: Any) -> None:
    if session.info.get(CROSS_TENANT):
        return
    org = _org_of(session)
    for obj in list(session.new) + list(session.dirty):
        if isinstance(obj, TenantScoped) and (org is None or obj.organisation_id != org):
            raise TenancyError(f"{type(obj).__name__} written outside its organisation scope")
