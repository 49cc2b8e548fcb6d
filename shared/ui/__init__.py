"""The common web UI: the page shell, header, macros and error page every service's pages
extend (``templates/``), and the header navigation across services.

A service renders with ``template_environment(its_templates_dir, lang)``: its own
templates first, then these, with the translations and vocabulary filters of
``shared.i18n``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader

from shared.contracts.journey import Role
from shared.i18n import N_, environment

TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class NavItem:
    """An entry of the header navigation."""

    path: str
    label: str  # an English msgid, translated when rendered
    roles: frozenset[Role] = field(default_factory=lambda: frozenset(Role))


_INTAKE = frozenset({Role.COACH, Role.TEAM_LEAD})
_EMPLOYER = frozenset({Role.COACH, Role.EMPLOYER_COORDINATOR, Role.TEAM_LEAD})

# Every service's pages share one header; a service adds its entries here.
NAV: list[NavItem] = [
    NavItem("/", N_("Caseload"), frozenset({Role.COACH, Role.TEAM_LEAD, Role.ORG_ADMIN})),
    NavItem("/referrals", N_("Referrals"), _INTAKE),
    NavItem("/register", N_("New client"), _INTAKE),
    NavItem("/quick-help", N_("Quick help"), _INTAKE),
    NavItem("/intake/oversight", N_("Declines and overrides"), frozenset({Role.TEAM_LEAD, Role.ORG_ADMIN})),
    # services/employer
    NavItem("/employers", N_("Employers"), _EMPLOYER),
    NavItem("/employer-contacts", N_("Employer contacts"), _EMPLOYER),
    NavItem("/openings", N_("Openings"), _EMPLOYER),
    NavItem("/job-seekers", N_("Job seekers"), _EMPLOYER),
    NavItem("/placements", N_("Placements"), _EMPLOYER),
    # services/reporting: every role has reports (region analysts only the region's)
    NavItem("/reports", N_("Reports"), frozenset(Role)),
    NavItem("/audit", N_("Audit"), frozenset({Role.AUDITOR})),
]


def nav_for(role: Role | None) -> list[NavItem]:
    return [item for item in NAV if role is not None and role in item.roles]


@cache
def template_environment(service_templates: Path, lang: str) -> Environment:
    """The Jinja2 environment of one service's templates plus the shared ones, in ``lang``.

    An overlay of ``shared.i18n.environment``: the same translations and filters, a loader
    that looks in the service's directory first."""
    base = environment(service_templates, lang)
    overlay: Environment = base.overlay(loader=FileSystemLoader([service_templates, TEMPLATES]))
    return overlay
