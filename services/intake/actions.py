"""What each intake request does, shared by the JSON API and the web pages.

Every function takes the caller (``Principal``) and a validated body, writes the audit
record before answering, and stores each change with its event in one transaction
(transactional outbox). Problems are raised as ``Invalid`` (422, per field),
``CaseloadFull`` (409), ``Conflict`` (409) or ``NotFound`` (404).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import TypedDict

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client as TemporalClient

from services.intake import hetu, store
from services.intake.models import (
    MESSAGES,
    AssignmentOverride,
    Client,
    ClientConsents,
    ClientDetails,
    ClientFields,
    CoachLoad,
    ConsentChange,
    ConsentEntry,
    ConsentGiven,
    DeclineCount,
    DeclineView,
    OverrideView,
    Oversight,
    QuickHelp,
    QuickHelpCreate,
    Referral,
    ReferralAccept,
    ReferralCreate,
    ReferralDecline,
    ReferralView,
    Registered,
)
from shared.auth import Principal
from shared.contracts.api import ClientRecord
from shared.contracts.events import (
    ClientRegistered,
    ConsentChanged,
    QuickHelpRecorded,
    ReferralAccepted,
    ReferralDeclined,
    ReferralReceived,
)
from shared.contracts.intake import (
    EXCLUDING,
    ClientSource,
    ConsentScope,
    DeclineReason,
    ReferralStatus,
    ReferrerType,
)
from shared.contracts.journey import Role, journey_workflow_id
from shared.db import serialise_on, utcnow
from shared.identity import Account
from shared.problems import FieldError
from shared.service import ServiceContext
from shared.telemetry import current_traceparent
from workflows.client import start_journey
from workflows.contracts import Actor, JourneyInput, JourneyTimers

CASELOAD_PER_FTE = 20  # quality criterion 1: at most 20 active clients per full-time coach
ASSIGNABLE_ROLES = (Role.COACH, Role.TEAM_LEAD)

# --------------------------------------------------------------------------- problems


class Invalid(Exception):
    """422: the fields named are wrong; nothing was written."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__(", ".join(e.field for e in errors))
        self.errors = errors


def field_error(field_name: str, code: str) -> FieldError:
    return FieldError(field=field_name, message=MESSAGES[code], type=code)


class CaseloadFull(Exception):
    """409: the coach's caseload is full and no override reason was given."""

    def __init__(self, load: CoachLoad) -> None:
        super().__init__(
            f"{load.name} has {load.active} active clients; the caseload limit is {load.capacity} "
            f"({CASELOAD_PER_FTE} per full-time coach × {load.fte:g} FTE). Choose another coach, or give "
            "override_reason to assign past the limit."
        )
        self.load = load


class Conflict(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


class NotFound(Exception):
    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


class _Envelope(TypedDict):
    organisation_id: uuid.UUID
    region_id: str
    traceparent: str | None


def _event_base(principal: Principal) -> _Envelope:
    return {
        "organisation_id": principal.organisation_id,
        "region_id": principal.region_id,
        "traceparent": current_traceparent(),
    }


def _session(ctx: ServiceContext, principal: Principal) -> AsyncSession:
    return ctx.database.sessions(info={"organisation_id": principal.organisation_id})


# --------------------------------------------------------------------------- caseloads


def _load(account: Account, active: int) -> CoachLoad:
    return CoachLoad(
        coach_id=account.id,
        username=account.username,
        name=account.display_name or account.username,
        role=account.role.value,
        fte=account.fte,
        capacity=round(CASELOAD_PER_FTE * account.fte),
        active=active,
    )


def _check_caseload(load: CoachLoad, override_reason: str | None) -> bool:
    """Whether the assignment goes over capacity; refused without an override reason."""
    if load.full and not override_reason:
        raise CaseloadFull(load)
    return load.full


async def coach_loads(ctx: ServiceContext, principal: Principal) -> list[CoachLoad]:
    """Every coach of the organisation with their active caseload against capacity."""
    async with _session(ctx, principal) as session:
        counts = await store.active_caseloads(session)
    loads: list[CoachLoad] = []
    for user in await ctx.identity.users(principal.organisation_id, Role.COACH):
        loads.append(
            CoachLoad(
                coach_id=user.id,
                username=user.username,
                name=user.display_name or user.username,
                role=user.role,
                fte=user.fte,
                capacity=round(CASELOAD_PER_FTE * user.fte),
                active=counts.get(user.id, 0),
            )
        )
    return loads


async def _assignable(ctx: ServiceContext, principal: Principal, coach_id: uuid.UUID) -> Account | None:
    coach = await ctx.identity.account(coach_id)
    if coach is None or coach.organisation_id != principal.organisation_id or coach.role not in ASSIGNABLE_ROLES:
        return None
    return coach


# --------------------------------------------------------------------------- registration


@dataclass
class _NewClient:
    fields: ClientFields
    coach_id: uuid.UUID
    consent: ConsentGiven | None
    override_reason: str | None
    referral_id: uuid.UUID | None = None
    extra_errors: list[FieldError] = field(default_factory=list)


async def register_client(
    ctx: ServiceContext,
    principal: Principal,
    fields: ClientFields,
    coach_id: uuid.UUID,
    consent: ConsentGiven | None,
    override_reason: str | None,
) -> Registered:
    """A self-referral: register the client and start the journey in INTAKE."""
    return await _register(ctx, principal, _NewClient(fields, coach_id, consent, override_reason))


async def _register(ctx: ServiceContext, principal: Principal, new: _NewClient) -> Registered:
    errors = list(new.extra_errors)
    coach = await _assignable(ctx, principal, new.coach_id)
    if coach is None:
        errors.append(field_error("coach_id", "coach_unknown"))
    if new.consent is None or not new.consent.processing:
        errors.append(field_error("consent.processing", "consent_required"))
    if errors:
        raise Invalid(errors)
    assert coach is not None and new.consent is not None
    org = principal.organisation_id
    code = new.fields.personal_identity_code
    hetu_index = store.hetu_index(ctx.keys, org, code) if code else None
    hetu_search = store.hetu_indexes(ctx.keys, org, code) if code else []

    if hetu_search:
        async with _session(ctx, principal) as session:
            existing = await store.client_by_hetu(session, hetu_search)
        if existing is not None:
            return await _existing(ctx, principal, existing, new.referral_id)

    # A first answer before anything is written; counted again under a lock when storing.
    async with _session(ctx, principal) as session:
        _check_caseload(_load(coach, await store.active_caseload(session, coach.id)), new.override_reason)

    temporal = await ctx.temporal()  # 503 here, before anything is written
    client_id = uuid.uuid4()
    await ctx.audit_access(principal, "client.register", client_id)
    try:
        journey_id = await _store_and_start(ctx, principal, new, coach, client_id, hetu_index, temporal)
    except IntegrityError:
        # The same identity code was registered a moment ago by someone else: answer that client.
        async with _session(ctx, principal) as session:
            existing = await store.client_by_hetu(session, hetu_search)
        if existing is None:
            raise
        return await _existing(ctx, principal, existing, new.referral_id)
    return Registered(client_id=client_id, journey_id=journey_id)


async def _store_and_start(
    ctx: ServiceContext,
    principal: Principal,
    new: _NewClient,
    coach: Account,
    client_id: uuid.UUID,
    hetu_index: str | None,
    temporal: TemporalClient,
) -> str:
    assert new.consent is not None
    org = principal.organisation_id
    f = new.fields
    s = store.client_sealer(ctx.cipher, client_id)
    journey_id = journey_workflow_id(str(org), str(client_id))
    base = _event_base(principal)
    async with _session(ctx, principal) as session, session.begin():
        # Two registrations at once must not both take a coach's last place: the second
        # waits here for the first to commit, then counts it.
        await serialise_on(session, coach.id)
        load = _load(coach, await store.active_caseload(session, coach.id))
        over = _check_caseload(load, new.override_reason)
        if new.referral_id is not None:
            referral = await store.get_referral(session, new.referral_id)
            if referral is None or referral.status != ReferralStatus.RECEIVED.value:
                raise Conflict("referral_decided", "The referral has been accepted or declined already.")
            _decide(referral, principal, ReferralStatus.ACCEPTED, client_id)
        session.add(
            Client(
                id=client_id,
                organisation_id=org,
                coach_id=coach.id,
                journey_id=journey_id,
                first_name_enc=s.seal("first_name", f.first_name),
                last_name_enc=s.seal("last_name", f.last_name),
                **store.name_indexes(ctx.keys, org, f.first_name, f.last_name),
                hetu_enc=s.seal("hetu", f.personal_identity_code),
                hetu_index=hetu_index,
                date_of_birth_enc=s.seal("date_of_birth", f.date_of_birth.isoformat() if f.date_of_birth else None),
                phone_enc=s.seal("phone", f.phone),
                email_enc=s.seal("email", str(f.email) if f.email else None),
                municipality_enc=s.seal("municipality", f.municipality),
                preferred_language=f.preferred_language,
                source=(ClientSource.REFERRAL if new.referral_id else ClientSource.SELF_REFERRAL).value,
                referral_id=new.referral_id,
                registered_by=principal.user_id,
            )
        )
        consents = [ConsentChange(scope=ConsentScope.PROCESSING, given=True)] + [
            ConsentChange(scope=ConsentScope.INFORMATION_EXCHANGE, party=x.party, party_name=x.name, given=True)
            for x in new.consent.information_exchange
        ]
        for change in consents:
            _add_consent(ctx, session, principal, client_id, change)
        if over:
            override_id = uuid.uuid4()
            session.add(
                AssignmentOverride(
                    id=override_id,
                    organisation_id=org,
                    client_id=client_id,
                    coach_id=coach.id,
                    active_before=load.active,
                    capacity=load.capacity,
                    reason_enc=store.Sealer(ctx.cipher, "override", override_id).seal("reason", new.override_reason),
                    decided_by=principal.user_id,
                )
            )
        ctx.outbox.add(
            session,
            ClientRegistered(
                **base,
                client_id=client_id,
                coach_id=coach.id,
                referral_id=new.referral_id,
                source=ClientSource.REFERRAL if new.referral_id else ClientSource.SELF_REFERRAL,
                over_capacity_override=over,
            ),
        )
        if new.referral_id is not None:
            ctx.outbox.add(
                session,
                ReferralAccepted(**base, referral_id=new.referral_id, client_id=client_id, coach_id=coach.id),
            )
        await session.flush()  # a duplicate identity code fails here, before the journey starts
        # Started inside the transaction: if the engine refuses, the client row is rolled back.
        try:
            await start_journey(
                temporal,
                JourneyInput(
                    organisation_id=org,
                    region_id=principal.region_id,
                    client_id=client_id,
                    coach_id=coach.id,
                    actor=Actor(user_id=principal.user_id, role=principal.role),
                    timers=JourneyTimers.from_settings(ctx.settings),
                    history_limit=ctx.settings.journey_history_limit,
                ),
                task_queue=ctx.settings.temporal_task_queue,
            )
        except Exception as exc:
            raise JourneyNotStarted() from exc
    return journey_id


class JourneyNotStarted(Exception):
    """503: the workflow engine refused the start; nothing was saved."""


async def _existing(
    ctx: ServiceContext, principal: Principal, client: Client, referral_id: uuid.UUID | None
) -> Registered:
    """The identity code is registered already: answer that client, and link the referral."""
    await ctx.audit_access(principal, "client.register.existing", client.id)
    if referral_id is not None:
        async with _session(ctx, principal) as session, session.begin():
            referral = await store.get_referral(session, referral_id)
            if referral is None or referral.status != ReferralStatus.RECEIVED.value:
                raise Conflict("referral_decided", "The referral has been accepted or declined already.")
            _decide(referral, principal, ReferralStatus.ACCEPTED, client.id)
            ctx.outbox.add(
                session,
                ReferralAccepted(
                    **_event_base(principal),
                    referral_id=referral_id,
                    client_id=client.id,
                    coach_id=client.coach_id,
                ),
            )
    return Registered(client_id=client.id, journey_id=client.journey_id, existing=True)


# --------------------------------------------------------------------------- consent


def _add_consent(
    ctx: ServiceContext, session: AsyncSession, principal: Principal, client_id: uuid.UUID, change: ConsentChange
) -> None:
    entry_id = uuid.uuid4()
    session.add(
        ConsentEntry(
            id=entry_id,
            organisation_id=principal.organisation_id,
            client_id=client_id,
            scope=change.scope.value,
            party=change.party.value if change.party else None,
            party_name_enc=store.Sealer(ctx.cipher, "consent", entry_id).seal("party_name", change.party_name),
            given=change.given,
            at=utcnow(),
            recorded_by=principal.user_id,
        )
    )
    ctx.outbox.add(
        session,
        ConsentChanged(
            **_event_base(principal),
            client_id=client_id,
            scope=change.scope,
            party=change.party,
            given=change.given,
        ),
    )


async def consents(ctx: ServiceContext, principal: Principal, client_id: uuid.UUID) -> ClientConsents:
    async with _session(ctx, principal) as session:
        if await store.get_client(session, client_id) is None:
            raise NotFound("client")
        entries = await store.consent_entries(session, client_id)
    await ctx.audit_access(principal, "consent.read", client_id)
    return store.to_consents(client_id, entries, ctx.cipher)


async def change_consent(
    ctx: ServiceContext, principal: Principal, client_id: uuid.UUID, change: ConsentChange
) -> ClientConsents:
    """Record a consent given or withdrawn (the history keeps every change)."""
    async with _session(ctx, principal) as session:
        if await store.get_client(session, client_id) is None:
            raise NotFound("client")
    await ctx.audit_access(principal, f"consent.{'give' if change.given else 'withdraw'}", client_id)
    async with _session(ctx, principal) as session, session.begin():
        _add_consent(ctx, session, principal, client_id, change)
    async with _session(ctx, principal) as session:
        entries = await store.consent_entries(session, client_id)
    return store.to_consents(client_id, entries, ctx.cipher)


# --------------------------------------------------------------------------- reading clients


async def client_exists(ctx: ServiceContext, principal: Principal, client_id: uuid.UUID) -> bool:
    """Whether the organisation has this client (reads no personal data, so not audited)."""
    async with _session(ctx, principal) as session:
        return await store.get_client(session, client_id) is not None


async def client_details(
    ctx: ServiceContext, principal: Principal, client_id: uuid.UUID, *, protected: bool
) -> ClientDetails:
    """The registry record; ``protected`` adds identity code, contact details and consent."""
    async with _session(ctx, principal) as session:
        client = await store.get_client(session, client_id)
        if client is None:
            raise NotFound("client")
        entries = await store.consent_entries(session, client_id) if protected else []
    await ctx.audit_access(principal, "client.read.details" if protected else "client.read", client_id)
    if not protected:
        return ClientDetails(**store.to_record(client, ctx.cipher).model_dump(), journey_status=client.journey_status)
    return store.to_details(client, ctx.cipher, store.to_consents(client_id, entries, ctx.cipher))


async def search(ctx: ServiceContext, principal: Principal, query: str, purpose: str) -> list[ClientRecord]:
    """Exact search by identity code, full name, first name or last name, audited with the purpose."""
    org = principal.organisation_id
    try:
        hetu_search = store.hetu_indexes(ctx.keys, org, hetu.parse(query).code)
    except hetu.HetuError:
        hetu_search = []  # not an identity code: a name
    indexes = store.name_search_indexes(ctx.keys, org, " ".join(query.split()))
    async with _session(ctx, principal) as session:
        found = await store.search_clients(session, indexes, hetu_search)
    await ctx.audit_many(principal, "client.search", [c.id for c in found] or [None], purpose=purpose)
    return [store.to_record(c, ctx.cipher) for c in found]


# --------------------------------------------------------------------------- referrals


def _decide(referral: Referral, principal: Principal, status: ReferralStatus, client_id: uuid.UUID | None) -> None:
    referral.status = status.value
    referral.decided_at = utcnow()
    referral.decided_by = principal.user_id
    referral.client_id = client_id


def _referral_purpose(referral_id: uuid.UUID) -> str:
    # A referral is not a client yet: the audit record names it in its purpose.
    return f"referral {referral_id}"


async def create_referral(ctx: ServiceContext, principal: Principal, body: ReferralCreate) -> uuid.UUID:
    referral_id = uuid.uuid4()
    s = store.Sealer(ctx.cipher, "referral", referral_id)
    await ctx.audit_access(principal, "referral.create", None, purpose=_referral_purpose(referral_id))
    async with _session(ctx, principal) as session, session.begin():
        session.add(
            Referral(
                id=referral_id,
                organisation_id=principal.organisation_id,
                status=ReferralStatus.RECEIVED.value,
                referrer_type=body.referrer_type.value,
                referrer_organisation_enc=s.seal("referrer_organisation", body.referrer_organisation),
                referrer_unit_enc=s.seal("referrer_unit", body.referrer_unit),
                referrer_contact_enc=s.seal("referrer_contact", body.referrer_contact),
                referred_on=body.referred_on,
                wants_open_employment=body.wants_open_employment,
                first_name_enc=s.seal("first_name", body.first_name),
                last_name_enc=s.seal("last_name", body.last_name),
                background_enc=s.seal("background", body.background),
                requested_start=body.requested_start,
                received_by=principal.user_id,
            )
        )
        ctx.outbox.add(
            session,
            ReferralReceived(
                **_event_base(principal),
                referral_id=referral_id,
                referrer_type=body.referrer_type,
                wants_open_employment=body.wants_open_employment,
            ),
        )
    return referral_id


async def referral(ctx: ServiceContext, principal: Principal, referral_id: uuid.UUID) -> ReferralView:
    async with _session(ctx, principal) as session:
        row = await store.get_referral(session, referral_id)
    if row is None:
        raise NotFound("referral")
    await ctx.audit_access(principal, "referral.read", row.client_id, purpose=_referral_purpose(referral_id))
    return store.to_referral(row, ctx.cipher)


async def referrals(
    ctx: ServiceContext, principal: Principal, status: ReferralStatus | None = None
) -> list[ReferralView]:
    async with _session(ctx, principal) as session:
        rows = await store.list_referrals(session, status)
    if rows:
        await ctx.audit_many(principal, "referral.list", [r.client_id for r in rows])
    return [store.to_referral(r, ctx.cipher) for r in rows]


async def accept_referral(
    ctx: ServiceContext, principal: Principal, referral_id: uuid.UUID, body: ReferralAccept
) -> Registered:
    async with _session(ctx, principal) as session:
        row = await store.get_referral(session, referral_id)
    if row is None:
        raise NotFound("referral")
    if row.status != ReferralStatus.RECEIVED.value:
        raise Conflict("referral_decided", "The referral has been accepted or declined already.")
    extra = []
    if not row.wants_open_employment and not body.wish_confirmed:
        extra.append(field_error("wish_confirmed", "wish_not_confirmed"))
    return await _register(
        ctx,
        principal,
        _NewClient(body.client, body.coach_id, body.consent, body.override_reason, referral_id, extra),
    )


async def decline_referral(
    ctx: ServiceContext, principal: Principal, referral_id: uuid.UUID, body: ReferralDecline
) -> ReferralView:
    async with _session(ctx, principal) as session:
        row = await store.get_referral(session, referral_id)
    if row is None:
        raise NotFound("referral")
    if row.status != ReferralStatus.RECEIVED.value:
        raise Conflict("referral_decided", "The referral has been accepted or declined already.")
    await ctx.audit_access(principal, "referral.decline", None, purpose=_referral_purpose(referral_id))
    async with _session(ctx, principal) as session, session.begin():
        fresh = await store.get_referral(session, referral_id)
        if fresh is None or fresh.status != ReferralStatus.RECEIVED.value:
            raise Conflict("referral_decided", "The referral has been accepted or declined already.")
        _decide(fresh, principal, ReferralStatus.DECLINED, None)
        fresh.decline_reason = body.reason.value
        fresh.decline_note_enc = store.Sealer(ctx.cipher, "referral", referral_id).seal("decline_note", body.note)
        ctx.outbox.add(
            session,
            ReferralDeclined(**_event_base(principal), referral_id=referral_id, reason=body.reason),
        )
    return store.to_referral(fresh, ctx.cipher)


# --------------------------------------------------------------------------- quick help


async def record_quick_help(ctx: ServiceContext, principal: Principal, body: QuickHelpCreate) -> uuid.UUID:
    coach_id = body.coach_id or principal.user_id
    if body.coach_id is not None and await _assignable(ctx, principal, body.coach_id) is None:
        raise Invalid([field_error("coach_id", "coach_unknown")])
    quick_help_id = uuid.uuid4()
    if body.person_name:  # a named contact is personal data: its write is audited too
        await ctx.audit_access(principal, "quick_help.record", None, purpose=f"quick help {quick_help_id}")
    async with _session(ctx, principal) as session, session.begin():
        session.add(
            QuickHelp(
                id=quick_help_id,
                organisation_id=principal.organisation_id,
                coach_id=coach_id,
                topic=body.topic.value,
                duration_minutes=body.duration_minutes,
                occurred_on=body.occurred_on,
                person_name_enc=store.Sealer(ctx.cipher, "quick_help", quick_help_id).seal(
                    "person_name", body.person_name
                ),
                recorded_by=principal.user_id,
            )
        )
        ctx.outbox.add(
            session,
            QuickHelpRecorded(
                **_event_base(principal),
                quick_help_id=quick_help_id,
                coach_id=coach_id,
                topic=body.topic,
                duration_minutes=body.duration_minutes,
                occurred_on=body.occurred_on,
                anonymous=body.person_name is None,
            ),
        )
    return quick_help_id


# --------------------------------------------------------------------------- oversight


async def oversight(ctx: ServiceContext, principal: Principal) -> Oversight:
    """Declines by reason (flagging those zero exclusion does not allow) and caseload overrides."""
    async with _session(ctx, principal) as session:
        counts = await store.referral_counts(session)
        by_reason = await store.decline_counts(session)
        declines = await store.recent_declines(session)
        override_rows = await store.overrides(session)
        quick_count, quick_minutes = await store.quick_help_totals(session)
    await ctx.audit_many(principal, "intake.oversight.read", [o.client_id for o in override_rows] or [None])
    reasons = [
        DeclineCount(reason=reason, count=by_reason.get(reason.value, 0), excluding=reason in EXCLUDING)
        for reason in DeclineReason
    ]
    return Oversight(
        received=sum(counts.values()),
        accepted=counts.get(ReferralStatus.ACCEPTED.value, 0),
        declined=counts.get(ReferralStatus.DECLINED.value, 0),
        open=counts.get(ReferralStatus.RECEIVED.value, 0),
        declines_by_reason=reasons,
        excluding_declines=sum(r.count for r in reasons if r.excluding),
        recent_declines=[
            DeclineView(
                referral_id=r.id,
                reason=DeclineReason(r.decline_reason or DeclineReason.OTHER.value),
                note=store.Sealer(ctx.cipher, "referral", r.id).open("decline_note", r.decline_note_enc),
                referrer_type=ReferrerType(r.referrer_type),
                decided_at=r.decided_at,
                decided_by=r.decided_by,
            )
            for r in declines
        ],
        overrides=[
            OverrideView(
                client_id=o.client_id,
                coach_id=o.coach_id,
                active_before=o.active_before,
                capacity=o.capacity,
                reason=store.Sealer(ctx.cipher, "override", o.id).open("reason", o.reason_enc) or "",
                at=o.at,
                decided_by=o.decided_by,
            )
            for o in override_rows
        ],
        quick_help_contacts=quick_count,
        quick_help_minutes=quick_minutes,
    )
