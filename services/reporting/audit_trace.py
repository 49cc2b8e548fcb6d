"""The auditor's journey trace, its signed export and the client's access report.

A trace merges three sources about one client of the auditor's organisation:

* ``workflow``: the ``ClientJourney`` timeline (every start, move, milestone and reminder,
  with actor, time and reason codes), read with the workflow's ``timeline`` query through
  the project's Temporal client (so the payload codec applies). Each entry is attributed
  to the workflow run (continue-as-new chain) whose lifetime holds its time.
* ``event``: the domain events that name the client (``client_id`` or
  ``for_client_id``), read from the organisation's subjects of every JetStream stream.
* ``access``: the hash-chained audit log (who viewed or changed what, when, with which
  purpose and outcome).

Every entry carries ``ref``, a stable reference to its source record, and ``trace_id``,
the OpenTelemetry trace id where one exists: an access record's own ``trace_id``, an
event's ``traceparent``, and for a workflow entry the ``traceparent`` of the event the
workflow published for it (matched by event id). Where no trace id exists the ``ref`` is
the entry's reference: ``workflow:{workflow id}:{run id}:{timeline seq}``,
``event:{event id}`` or ``audit:{organisation id}:{chain seq}``.

The first half of this module is pure (models, merging, filtering, signing, the access
report) so it can be unit-tested; the I/O that fetches the sources is at the end.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from shared.i18n import N_, ROLE_LABELS, TIMEZONE, label, translator

if TYPE_CHECKING:
    from temporalio.client import Client as TemporalClient

    from shared.platform import AuditRecord
    from workflows.contracts import TimelineEntry

Kind = Literal["workflow", "event", "access"]
KINDS: tuple[Kind, ...] = ("workflow", "event", "access")
KIND_LABELS: dict[str, str] = {
    "workflow": N_("Workflow history"),
    "event": N_("Domain event"),
    "access": N_("Access log"),
}
_KIND_ORDER = {k: i for i, k in enumerate(KINDS)}

# Why an auditor looks: a code from this list plus, optionally, a case or diary number.
# Codes and references only, so a purpose never carries a name into an URL or a log.
PurposeCode = Literal["supervision", "client_request", "complaint", "incident", "authority_request"]
PURPOSES: dict[str, str] = {
    "supervision": N_("Supervision of the processing of client data"),
    "client_request": N_("The client asked who has processed their data"),
    "complaint": N_("A complaint or a report about the service"),
    "incident": N_("A suspected data security incident"),
    "authority_request": N_("A request from an authority"),
}
CASE_REF_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_./:-]{0,63}$"
CaseRef = Annotated[str, StringConstraints(pattern=CASE_REF_PATTERN)]

# Domain event fields shown in a trace: codes and ids only, never scores or free text.
EVENT_DETAIL_FIELDS = (
    "action",
    "phase",
    "status",
    "from_phase",
    "from_status",
    "rest_reason",
    "outcome",
    "reason_ref",
    "kind",
    "reminder",
    "scope",
    "party",
    "given",
    "source",
    "instrument",
    "timing",
    "reason",
    "mode",
    "coach_id",
    "referral_id",
    "placement_id",
    "employer_id",
    "opening_id",
    "contact_id",
)
WORKFLOW_DETAIL_FIELDS = (
    "action",
    "milestone",
    "reminder",
    "from_phase",
    "to_phase",
    "from_status",
    "to_status",
    "from_coach_id",
    "to_coach_id",
    "criterion",
    "place",
    "contact_mode",
    "occurred_at",
    "due_at",
    "review_date",
    "event_id",
)
EXPORT_FORMAT = "polku.audit-trace/1"
SIGNATURE_ALGORITHM = "Ed25519"
ACCESS_REPORT_YEARS = 2


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


def purpose_text(purpose: str | None, lang: str) -> str:
    """A stated purpose in words: an auditor's ``code[:case]`` translated (the case number
    kept), any other purpose (e.g. a coach's search) as it was written."""
    if not purpose:
        return ""
    code, _, case = purpose.partition(":")
    if code not in PURPOSES:
        return purpose
    text = label(PURPOSES, lang, code)
    return f"{text} ({case})" if case else text


class AuditPurpose(_Model):
    """The auditor's stated purpose: a code and an optional case reference."""

    code: PurposeCode
    case_reference: CaseRef | None = None

    def text(self) -> str:
        """The form stored in the audit record's ``purpose``: ``code`` or ``code:case``."""
        return self.code if not self.case_reference else f"{self.code}:{self.case_reference}"


class TraceEntry(_Model):
    kind: Kind
    at: datetime
    what: str = Field(description="The action code, event type or audit action")
    actor_id: uuid.UUID | None = None
    actor_role: str | None = None
    actor_name: str | None = None
    reason: str | None = Field(None, description="Reason codes of a workflow move (rest reason, outcome, reason ref)")
    purpose: str | None = Field(None, description="The stated purpose of an access")
    outcome: str | None = Field(None, description="The access's outcome (ok, denied, not_found, ...)")
    details: dict[str, str] = Field(default_factory=dict)
    trace_id: str | None = Field(None, description="OpenTelemetry trace id (32 hex) where one exists")
    ref: str = Field(description="Reference to the source record (see module docs)")
    run_id: str | None = Field(None, description="The workflow run of a workflow entry")


class TraceFilters(_Model):
    kinds: list[Kind] = Field(default_factory=list, description="Empty: every kind")
    actor_id: uuid.UUID | None = None
    start: date | None = None
    end: date | None = None


class TraceActor(_Model):
    actor_id: uuid.UUID
    role: str | None = None
    name: str | None = None


class WorkflowRun(_Model):
    run_id: str
    started_at: datetime
    closed_at: datetime | None = None
    status: str | None = None


class JourneyTrace(_Model):
    organisation_id: uuid.UUID
    client_id: uuid.UUID
    workflow_id: str
    generated_at: datetime
    generated_by: uuid.UUID
    purpose: str
    filters: TraceFilters
    runs: list[WorkflowRun] = Field(default_factory=list)
    counts: dict[str, int] = Field(default_factory=dict, description="Entries per kind before the filters")
    events_complete: bool = Field(True, description="False when the event scan stopped at its limit")
    workflow_available: bool = Field(True, description="False when the workflow engine did not answer")
    actors: list[TraceActor] = Field(default_factory=list, description="Everyone in the unfiltered trace")
    entries: list[TraceEntry]


class Signature(_Model):
    algorithm: Literal["Ed25519"] = "Ed25519"
    key_id: str
    content_sha256: str
    value: str = Field(description="Base64 Ed25519 signature over the canonical JSON of `trace`")


class SignedTrace(_Model):
    format: Literal["polku.audit-trace/1"] = "polku.audit-trace/1"
    trace: JourneyTrace
    signature: Signature


class VerifyResult(_Model):
    valid: bool
    key_id: str | None = None
    problem: str | None = None


class SigningKeyOut(_Model):
    algorithm: Literal["Ed25519"] = "Ed25519"
    key_id: str
    public_key: str = Field(description="Raw 32-byte public key, base64")


# --------------------------------------------------------------------------- assembling


def trace_id_of(traceparent: object) -> str | None:
    """The trace id of a W3C ``traceparent`` (``00-<32 hex>-<16 hex>-<2 hex>``)."""
    if not isinstance(traceparent, str):
        return None
    parts = traceparent.split("-")
    if len(parts) == 4 and re.fullmatch(r"[0-9a-f]{32}", parts[1]) and parts[1] != "0" * 32:
        return parts[1]
    return None


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def run_at(at: datetime, runs: Sequence[WorkflowRun]) -> str | None:
    """The run whose lifetime holds ``at``: the newest run started at or before it."""
    chosen: str | None = None
    for run in sorted(runs, key=lambda r: _aware(r.started_at)):
        if _aware(run.started_at) <= _aware(at):
            chosen = run.run_id
    if chosen is None and runs:
        chosen = min(runs, key=lambda r: _aware(r.started_at)).run_id
    return chosen


def _text(value: object) -> str:
    if isinstance(value, datetime):
        return _aware(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(getattr(value, "value", value))


def workflow_entries(
    workflow_id: str,
    timeline: Sequence[TimelineEntry],
    runs: Sequence[WorkflowRun] = (),
    event_traces: Mapping[uuid.UUID, str] | None = None,
) -> list[TraceEntry]:
    """The workflow's timeline as trace entries. ``event_traces`` maps the id of the event
    published for an entry to that event's trace id."""
    traces = event_traces or {}
    out: list[TraceEntry] = []
    for e in timeline:
        what = e.action or e.milestone or e.reminder or e.kind
        reasons = [str(getattr(r, "value", r)) for r in (e.rest_reason, e.outcome, e.reason_ref) if r is not None]
        details = {f: _text(getattr(e, f)) for f in WORKFLOW_DETAIL_FIELDS if getattr(e, f) is not None}
        details["kind"] = e.kind
        details["episode"] = str(e.episode)
        run_id = run_at(e.at, runs)
        out.append(
            TraceEntry(
                kind="workflow",
                at=_aware(e.at),
                what=f"{e.kind}.{what}" if what != e.kind else e.kind,
                actor_id=e.actor.user_id if e.actor else None,
                actor_role=e.actor.role.value if e.actor else None,
                reason=", ".join(reasons) or None,
                details=details,
                trace_id=traces.get(e.event_id) if e.event_id else None,
                ref=f"workflow:{workflow_id}:{run_id or '-'}:{e.seq}",
                run_id=run_id,
            )
        )
    return out


def event_names_client(event: Mapping[str, Any], client_id: uuid.UUID) -> bool:
    """Whether a decoded domain event is about the client."""
    wanted = str(client_id)
    return any(str(event.get(key) or "") == wanted for key in ("client_id", "for_client_id"))


def as_uuid(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


def event_entries(events: Iterable[Mapping[str, Any]]) -> list[TraceEntry]:
    out: list[TraceEntry] = []
    for ev in events:
        try:
            at = _aware(datetime.fromisoformat(str(ev["occurred_at"])))
        except (KeyError, ValueError):
            continue
        details = {f: _text(ev[f]) for f in EVENT_DETAIL_FIELDS if ev.get(f) is not None}
        reasons = [str(ev[f]) for f in ("rest_reason", "outcome", "reason_ref", "reason") if ev.get(f)]
        out.append(
            TraceEntry(
                kind="event",
                at=at,
                what=str(ev.get("type") or "event"),
                actor_id=as_uuid(ev.get("actor_id") or ev.get("staff_id")),
                actor_role=ev.get("actor_role") or None,
                reason=", ".join(reasons) or None,
                details=details,
                trace_id=trace_id_of(ev.get("traceparent")),
                ref=f"event:{ev.get('id')}",
            )
        )
    return out


def event_trace_ids(events: Iterable[Mapping[str, Any]]) -> dict[uuid.UUID, str]:
    """Event id -> trace id, for the workflow entries the events were published for."""
    out: dict[uuid.UUID, str] = {}
    for ev in events:
        eid, tid = as_uuid(ev.get("id")), trace_id_of(ev.get("traceparent"))
        if eid is not None and tid is not None:
            out[eid] = tid
    return out


def access_entries(records: Iterable[AuditRecord]) -> list[TraceEntry]:
    return [
        TraceEntry(
            kind="access",
            at=_aware(r.at),
            what=r.action,
            actor_id=r.actor_id,
            actor_role=r.actor_role,
            purpose=r.purpose,
            outcome=r.outcome,
            details={"seq": str(r.seq), "hash": r.hash},
            trace_id=r.trace_id,
            ref=f"audit:{r.organisation_id}:{r.seq}",
        )
        for r in records
    ]


def merge(*groups: Iterable[TraceEntry]) -> list[TraceEntry]:
    """One timeline, oldest first; at the same moment workflow, event, access."""
    return sorted(
        (e for g in groups for e in g),
        key=lambda e: (_aware(e.at), _KIND_ORDER[e.kind], e.ref),
    )


def _local_day(at: datetime) -> date:
    from zoneinfo import ZoneInfo

    return _aware(at).astimezone(ZoneInfo(TIMEZONE)).date()


def apply_filters(entries: Iterable[TraceEntry], filters: TraceFilters) -> list[TraceEntry]:
    """Entries of the chosen kinds, by the chosen actor, on the chosen days (Finnish time,
    both ends included)."""
    out = []
    for e in entries:
        if filters.kinds and e.kind not in filters.kinds:
            continue
        if filters.actor_id is not None and e.actor_id != filters.actor_id:
            continue
        day = _local_day(e.at)
        if filters.start is not None and day < filters.start:
            continue
        if filters.end is not None and day > filters.end:
            continue
        out.append(e)
    return out


def name_actors(entries: Iterable[TraceEntry], names: Mapping[uuid.UUID, str]) -> list[TraceEntry]:
    return [
        e.model_copy(update={"actor_name": names.get(e.actor_id)}) if e.actor_id is not None else e for e in entries
    ]


def actors_of(entries: Iterable[TraceEntry]) -> list[TraceActor]:
    seen: dict[uuid.UUID, TraceActor] = {}
    for e in entries:
        if e.actor_id is not None and e.actor_id not in seen:
            seen[e.actor_id] = TraceActor(actor_id=e.actor_id, role=e.actor_role, name=e.actor_name)
    return sorted(seen.values(), key=lambda a: ((a.name or "").casefold(), str(a.actor_id)))


def counts_of(entries: Iterable[TraceEntry]) -> dict[str, int]:
    c = Counter(e.kind for e in entries)
    return {k: c.get(k, 0) for k in KINDS}


# --------------------------------------------------------------------------- signing


def canonical(value: Any) -> bytes:
    """The canonical JSON the signature covers: sorted keys, no spaces, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def signing_key(secret: bytes) -> Ed25519PrivateKey:
    """The export signing key, derived from the deployment's secret key (HKDF-SHA256), so
    every process of one deployment signs with the same key and nothing new is stored."""
    seed = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"polku audit export signing v1").derive(secret)
    return Ed25519PrivateKey.from_private_bytes(seed)


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id_of(key: Ed25519PublicKey) -> str:
    return "ed25519-" + hashlib.sha256(_raw_public(key)).hexdigest()[:16]


def public_key_out(secret: bytes) -> SigningKeyOut:
    public = signing_key(secret).public_key()
    return SigningKeyOut(key_id=key_id_of(public), public_key=base64.b64encode(_raw_public(public)).decode())


def sign_trace(trace: JourneyTrace, secret: bytes) -> SignedTrace:
    key = signing_key(secret)
    body = canonical(trace.model_dump(mode="json"))
    return SignedTrace(
        trace=trace,
        signature=Signature(
            key_id=key_id_of(key.public_key()),
            content_sha256=hashlib.sha256(body).hexdigest(),
            value=base64.b64encode(key.sign(body)).decode(),
        ),
    )


def verify_signed(document: Mapping[str, Any], public_keys: Mapping[str, Ed25519PublicKey]) -> VerifyResult:
    """Check an exported trace as it was received (a decoded JSON object): the signature
    over the canonical JSON of its ``trace`` with the named key. Any change to the trace,
    however small, makes it fail."""
    signature = document.get("signature")
    trace = document.get("trace")
    if document.get("format") != EXPORT_FORMAT or not isinstance(signature, Mapping) or not isinstance(trace, Mapping):
        return VerifyResult(valid=False, problem="not a Polku audit trace export")
    kid = signature.get("key_id")
    key = public_keys.get(str(kid))
    if key is None:
        return VerifyResult(valid=False, key_id=str(kid), problem="signed with an unknown key")
    if signature.get("algorithm") != SIGNATURE_ALGORITHM:
        return VerifyResult(valid=False, key_id=str(kid), problem="unknown signature algorithm")
    body = canonical(trace)
    if hashlib.sha256(body).hexdigest() != signature.get("content_sha256"):
        return VerifyResult(valid=False, key_id=str(kid), problem="the content does not match its hash")
    try:
        key.verify(base64.b64decode(str(signature.get("value")), validate=True), body)
    except (InvalidSignature, ValueError):
        return VerifyResult(valid=False, key_id=str(kid), problem="the signature does not match the content")
    return VerifyResult(valid=True, key_id=str(kid))


def known_keys(secret: bytes) -> dict[str, Ed25519PublicKey]:
    public = signing_key(secret).public_key()
    return {key_id_of(public): public}


# --------------------------------------------------------------------------- the client's access report

Activity = Literal["viewed", "changed", "searched", "audited", "processed"]
ACTIVITY_LABELS: dict[str, str] = {
    "viewed": N_("Viewed your data"),
    "changed": N_("Recorded or changed your data"),
    "searched": N_("Searched for your data"),
    "audited": N_("Checked the log of your data"),
    "processed": N_("Processed your data"),
}
# The basis of processing, by role, in plain words for the client.
BASIS_LABELS: dict[str, str] = {
    "coach": N_("Providing the service to you as your employment coach (customer relationship)"),
    "team_lead": N_("Arranging and supervising your service (customer relationship)"),
    "employer_coordinator": N_("Finding work with you together with employers (customer relationship)"),
    "auditor": N_("Checking that your data is processed lawfully (log supervision)"),
    "org_admin": N_("Maintaining the service"),
    "region_analyst": N_("Statistics that do not name you"),
    "system": N_("Automatic processing by the service"),
}
_CHANGE_WORDS = frozenset(
    [
        "write",
        "create",
        "save",
        "register",
        "move",
        "milestone",
        "start",
        "end",
        "give",
        "withdraw",
        "decline",
        "record",
        "place",
        "lift",
        "add",
        "carve",
    ]
)
_READ_WORDS = frozenset(["read", "list", "details", "timeline", "evidence", "export", "view"])
_SEARCH_WORDS = frozenset(["search", "lookup", "match"])


def activity_of(action: str) -> Activity:
    """What an audit action did, in the client's terms."""
    words = set(re.split(r"[._]", action))
    if action.startswith("audit."):
        return "audited"
    if words & _SEARCH_WORDS:
        return "searched"
    if words & _CHANGE_WORDS:
        return "changed"
    if words & _READ_WORDS:
        return "viewed"
    return "processed"


class AccessReportLine(_Model):
    actor_name: str
    role: str
    role_label: str
    basis: str
    activities: dict[str, int]
    activity_labels: dict[str, str]
    purposes: list[str]
    first_at: datetime
    last_at: datetime
    times: int


class AccessReport(_Model):
    client_id: uuid.UUID
    organisation_id: uuid.UUID
    organisation_name: str
    lang: str
    period_start: date
    period_end: date
    generated_at: datetime
    lines: list[AccessReportLine]
    total: int


def access_report(
    records: Iterable[AuditRecord],
    *,
    client_id: uuid.UUID,
    organisation_id: uuid.UUID,
    organisation_name: str,
    names: Mapping[uuid.UUID, str],
    now: datetime,
    lang: str,
    years: int = ACCESS_REPORT_YEARS,
) -> AccessReport:
    """Who processed the client's data, on what basis, over the last ``years`` years: one
    line per person and role, in ``lang``. Failed or refused attempts are left out (they
    did not process the data); the auditor's own checks are in."""
    _ = translator(lang).gettext
    since = now - timedelta(days=365 * years + years // 4)
    groups: dict[tuple[str, str], list[AuditRecord]] = {}
    for r in records:
        if r.client_id != client_id or r.outcome != "ok" or _aware(r.at) < since:
            continue
        who = str(r.actor_id) if r.actor_id else "system"
        groups.setdefault((who, r.actor_role if r.actor_id else "system"), []).append(r)
    lines = []
    for (who, role), rows in groups.items():
        acts = Counter(activity_of(r.action) for r in rows)
        actor = as_uuid(who)
        lines.append(
            AccessReportLine(
                actor_name=(names.get(actor) if actor else None) or (_("The service") if who == "system" else who),
                role=role,
                role_label=label(ROLE_LABELS, lang, role) if role != "system" else _("The service"),
                basis=label(BASIS_LABELS, lang, role),
                activities=dict(acts),
                activity_labels={a: label(ACTIVITY_LABELS, lang, a) for a in acts},
                purposes=sorted({purpose_text(r.purpose, lang) for r in rows if r.purpose}),
                first_at=min(_aware(r.at) for r in rows),
                last_at=max(_aware(r.at) for r in rows),
                times=len(rows),
            )
        )
    lines.sort(key=lambda line: line.first_at)
    return AccessReport(
        client_id=client_id,
        organisation_id=organisation_id,
        organisation_name=organisation_name,
        lang=lang,
        period_start=_local_day(since),
        period_end=_local_day(now),
        generated_at=now,
        lines=lines,
        total=sum(line.times for line in lines),
    )


# --------------------------------------------------------------------------- fetching (I/O)

EVENT_SCAN_LIMIT = 200_000  # messages per stream; past it the trace says it is incomplete
_FETCH_BATCH = 500


async def workflow_history(
    temporal: TemporalClient, organisation_id: uuid.UUID, client_id: uuid.UUID
) -> tuple[list[TimelineEntry], list[WorkflowRun], bool]:
    """The journey's timeline and its runs; ([], [], False) when there is no journey of
    this organisation for the client (the workflow id holds the organisation)."""
    from workflows.client import JourneyNotFound, get_timeline, workflow_id

    try:
        timeline = await get_timeline(temporal, organisation_id, client_id)
    except JourneyNotFound:
        return [], [], False
    wid = workflow_id(organisation_id, client_id)
    runs: list[WorkflowRun] = []
    async for execution in temporal.list_workflows(f'WorkflowId = "{wid}"'):
        runs.append(
            WorkflowRun(
                run_id=execution.run_id,
                started_at=execution.start_time,
                closed_at=execution.close_time,
                status=execution.status.name if execution.status is not None else None,
            )
        )
    runs.sort(key=lambda r: _aware(r.started_at))
    return timeline, runs, True


def org_subjects(subjects: Sequence[str], organisation_id: uuid.UUID) -> list[str]:
    """A stream's subjects narrowed to one organisation (``polku.*.x.>`` -> ``polku.<org>.x.>``)."""
    return [s.replace("polku.*.", f"polku.{organisation_id}.", 1) for s in subjects]


async def client_events(
    nats_url: str, organisation_id: uuid.UUID, client_id: uuid.UUID, limit: int = EVENT_SCAN_LIMIT
) -> tuple[list[dict[str, Any]], bool]:
    """The organisation's domain events that name the client, from every stream, and
    whether the scan was complete. Reads through temporary consumers filtered to the
    organisation's subjects (no acknowledgements, nothing left behind)."""
    import nats
    from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
    from nats.js.errors import NotFoundError

    from shared.events.streams import STREAMS

    found: list[dict[str, Any]] = []
    complete = True
    nc = await nats.connect(nats_url, connect_timeout=5, max_reconnect_attempts=1)
    try:
        js = nc.jetstream()
        for spec in STREAMS:
            try:
                await js.stream_info(spec.name)
            except NotFoundError:
                continue
            subjects = org_subjects(spec.subjects, organisation_id)
            sub = await js.pull_subscribe(
                subjects[0],
                stream=spec.name,
                config=ConsumerConfig(
                    ack_policy=AckPolicy.NONE,
                    deliver_policy=DeliverPolicy.ALL,
                    inactive_threshold=30.0,
                    filter_subjects=subjects if len(subjects) > 1 else None,
                ),
            )
            try:
                pending = int((await sub.consumer_info()).num_pending or 0)
                if pending > limit:
                    complete, pending = False, limit
                read = 0
                while read < pending:
                    try:
                        msgs = await sub.fetch(min(_FETCH_BATCH, pending - read), timeout=5)
                    except nats.errors.TimeoutError:
                        break
                    read += len(msgs)
                    for msg in msgs:
                        try:
                            event = json.loads(msg.data)
                        except ValueError:
                            continue
                        if isinstance(event, dict) and event_names_client(event, client_id):
                            found.append(event)
            finally:
                await sub.unsubscribe()
    finally:
        await nc.close()
    return found, complete
