"""The route table of a FastAPI app, flattened (included routers resolved), with the
roles each route declares through ``shared.auth.requires``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI

from shared.contracts.journey import Role


@dataclass(frozen=True)
class RouteInfo:
    path: str
    methods: frozenset[str]
    roles: frozenset[Role] | None  # None: the route declares no role requirement
    endpoint: Any


def _roles(dependant: Any) -> frozenset[Role] | None:
    if dependant is None:
        return None
    for dep in dependant.dependencies:
        roles = getattr(dep.call, "__polku_roles__", None)
        if roles is not None:
            return frozenset(roles)
        nested = _roles(dep)
        if nested is not None:
            return nested
    return None


def iter_routes(app: FastAPI) -> Iterator[RouteInfo]:
    for route in app.router.routes:
        # FastAPI >= 0.16x keeps included routers as one lazy entry each.
        contexts = getattr(route, "effective_route_contexts", None)
        candidates = list(contexts()) if contexts is not None else [route]
        for r in candidates:
            path = getattr(r, "path", None)
            if not path:
                continue
            yield RouteInfo(
                path=path,
                methods=frozenset(getattr(r, "methods", None) or ()),
                roles=_roles(getattr(r, "dependant", None)),
                endpoint=getattr(r, "endpoint", None),
            )
