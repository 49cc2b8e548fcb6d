"""Retention and subject access for the coaching client records, generically.

The coaching service's client tables (meetings, the vocational profile, the team, plans,
...) are defined by their own modules on ``CoachingBase``. This module works on every
table of ``CoachingBase.metadata`` that has a ``client_id`` column, and on the tables that
reference such a table by foreign key (their rows belong to the same client), so a new
table is covered without a change here.

A column is personal free text when its name ends in ``_enc`` (encrypted personal field,
the codebase's convention), its type is ``Text``, or it declares ``info={"personal":
True}``. ``erase_client`` sets those columns to null; a row whose personal column cannot
be null is deleted (children first). Codes, times, counts and ids stay. Idempotent.

``export_client`` returns every such row, with encrypted values decrypted where the
owning module registers its encrypted columns (a module-level ``ENCRYPTED = {model:
(label, columns)}`` and ``context(label, row_id, field)``, as ``record_store`` does).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Column, Table, Text, delete, inspect, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.coaching.models import CoachingBase
from shared.crypto import FieldCipher
from shared.db import Database

log = logging.getLogger(__name__)

ContextFn = Callable[[str, uuid.UUID, str], str]


def load_models() -> None:
    """Import every coaching module defining tables, so the metadata is whole (as the
    migrations' env.py does)."""
    from services.coaching import plan_models, record_models  # noqa: F401


def is_personal(column: Column[Any]) -> bool:
    return column.name.endswith("_enc") or isinstance(column.type, Text) or bool(column.info.get("personal"))


@dataclass(frozen=True)
class Link:
    """How a table's rows belong to a client: directly (``client_id``) or through a parent."""

    table: Table
    parent: Link | None = None
    fk_column: str | None = None  # this table's column referencing the parent's key
    parent_key: str | None = None  # the parent's referenced column


def client_tables(tables: Iterable[Table] | None = None) -> list[Link]:
    """Every table holding client data: those with ``client_id`` and, recursively, the
    tables referencing them. Parents come before their children."""
    if tables is None:
        load_models()
        tables = CoachingBase.metadata.sorted_tables
    tables = list(tables)
    links = [Link(t) for t in tables if "client_id" in t.c]
    seen = {link.table.name for link in links}
    frontier = list(links)
    while frontier:
        parent = frontier.pop(0)
        for table in tables:
            if table.name in seen:
                continue
            for fk in table.foreign_keys:
                if fk.column.table is parent.table:
                    link = Link(table, parent, fk.parent.name, fk.column.name)
                    links.append(link)
                    frontier.append(link)
                    seen.add(table.name)
                    break
    return links


def _primary_key(table: Table) -> Column[Any]:
    keys = list(table.primary_key.columns)
    if len(keys) != 1:
        raise ValueError(f"coaching table {table.name} needs a single-column primary key for retention")
    return keys[0]


async def _keys_of(
    session: AsyncSession, link: Link, organisation_id: uuid.UUID, client_id: uuid.UUID, column: str
) -> list[Any]:
    """Values of ``column`` of the client's rows of ``link.table``."""
    table = link.table
    q = select(table.c[column])
    if "organisation_id" in table.c:
        q = q.where(table.c.organisation_id == organisation_id)
    if link.parent is None:
        q = q.where(table.c.client_id == client_id)
    else:
        assert link.fk_column is not None and link.parent_key is not None
        parents = await _keys_of(session, link.parent, organisation_id, client_id, link.parent_key)
        if not parents:
            return []
        q = q.where(table.c[link.fk_column].in_(parents))
    return list((await session.execute(q)).scalars())


async def existing(session: AsyncSession, links: list[Link]) -> list[Link]:
    """The links whose tables exist in the database: a table whose migration has not run
    yet holds no rows to erase or export."""
    conn = await session.connection()
    names = set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
    return [link for link in links if link.table.name in names]


async def erase_client(db: Database, organisation_id: uuid.UUID, client_id: uuid.UUID) -> int:
    """Erase the client's free text in every coaching client table; returns rows changed."""
    links = client_tables()
    changed = 0
    async with db.session(organisation_id=organisation_id) as session, session.begin():
        links = await existing(session, links)
        # Children first: a deleted parent row must not leave its children behind.
        for link in reversed(links):
            table = link.table
            personal = [c for c in table.columns if is_personal(c)]
            if not personal:
                continue
            key = _primary_key(table)
            ids = await _keys_of(session, link, organisation_id, client_id, key.name)
            if not ids:
                continue
            if any(not c.nullable for c in personal):
                await _delete_tree(session, links, link, ids)
                changed += len(ids)
                continue
            pending = [c.is_not(None) for c in personal]
            result = await session.execute(
                update(table)
                .where(key.in_(ids), or_(*pending))
                .values({c.name: None for c in personal})
                .execution_options(synchronize_session=False)
            )
            changed += int(getattr(result, "rowcount", 0) or 0)
    return changed


async def _delete_tree(session: AsyncSession, links: list[Link], link: Link, ids: list[Any]) -> None:
    for child in links:
        if child.parent is link and child.fk_column is not None and child.parent_key is not None:
            parent_values = list(
                (
                    await session.execute(
                        select(link.table.c[child.parent_key]).where(_primary_key(link.table).in_(ids))
                    )
                ).scalars()
            )
            child_ids = list(
                (
                    await session.execute(
                        select(_primary_key(child.table)).where(child.table.c[child.fk_column].in_(parent_values))
                    )
                ).scalars()
            )
            if child_ids:
                await _delete_tree(session, links, child, child_ids)
    await session.execute(delete(link.table).where(_primary_key(link.table).in_(ids)))


# --------------------------------------------------------------------------- export


def encryption_registry() -> dict[str, tuple[ContextFn, str, tuple[str, ...]]]:
    """table name -> (context function, label, encrypted columns), from the coaching
    modules that own encrypted tables (each registers ``ENCRYPTED`` and ``context``)."""
    from services.coaching import plan_store, record_store

    registry: dict[str, tuple[ContextFn, str, tuple[str, ...]]] = {}
    for module in (record_store, plan_store):
        for model, (label, columns) in module.ENCRYPTED.items():
            registry[model.__tablename__] = (module.context, label, tuple(columns))
    return registry


def _plain(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


async def export_client(
    db: Database, cipher: FieldCipher, organisation_id: uuid.UUID, client_id: uuid.UUID
) -> dict[str, list[dict[str, Any]]]:
    """table name -> the client's rows (every table with client data, empty lists too).
    Encrypted columns appear decrypted without the ``_enc`` suffix; a value no module
    can decrypt appears as ``null`` under ``undecryptable``."""
    links = client_tables()
    registry = encryption_registry()
    out: dict[str, list[dict[str, Any]]] = {}
    async with db.session(organisation_id=organisation_id) as session:
        for link in await existing(session, links):
            table = link.table
            key = _primary_key(table)
            ids = await _keys_of(session, link, organisation_id, client_id, key.name)
            rows: list[dict[str, Any]] = []
            if ids:
                result = await session.execute(select(table).where(key.in_(ids)))
                for row in result.mappings():
                    rows.append(_export_row(table, dict(row), registry.get(table.name), cipher))
            out[table.name] = rows
    return out


def _export_row(
    table: Table,
    row: dict[str, Any],
    spec: tuple[ContextFn, str, tuple[str, ...]] | None,
    cipher: FieldCipher,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    undecryptable: list[str] = []
    for column in table.columns:
        value = row.get(column.name)
        if column.name.endswith("_enc"):
            field = column.name.removesuffix("_enc")
            if value is None:
                out[field] = None
            elif spec is not None and column.name in spec[2]:
                context, label, _ = spec
                row_id = row[_primary_key(table).name]
                out[field] = cipher.decrypt(value, context(label, row_id, field))
            else:
                out[field] = None
                undecryptable.append(field)
        elif column.name != "organisation_id":
            out[column.name] = _plain(value)
    if undecryptable:
        out["undecryptable"] = undecryptable
    return out
