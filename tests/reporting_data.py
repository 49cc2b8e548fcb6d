"""Journey events built by hand, in timeline order, for the reporting tests."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from shared.contracts.events import JourneyEvent, JourneyMoved, JourneyStarted, MilestoneRecorded, ReminderDue
from shared.contracts.journey import Phase, Status


class Journey:
    """One client's journey events, as the ClientJourney workflow would publish them."""

    def __init__(
        self,
        organisation_id: uuid.UUID,
        client_id: uuid.UUID | None = None,
        coach_id: uuid.UUID | None = None,
        region_id: str = "kymenlaakso",
    ) -> None:
        self.organisation_id = organisation_id
        self.client_id = client_id or uuid.uuid4()
        self.coach_id = coach_id or uuid.uuid4()
        self.region_id = region_id
        self.events: list[JourneyEvent] = []
        self.phase, self.status, self.episode = Phase.INTAKE, Status.ACTIVE, 1

    def common(self, at: datetime) -> dict[str, Any]:
        return {
            "occurred_at": at,
            "organisation_id": self.organisation_id,
            "region_id": self.region_id,
            "client_id": self.client_id,
            "journey_id": f"journey-{self.organisation_id}-{self.client_id}",
            "coach_id": self.coach_id,
            "episode": self.episode,
            "phase": self.phase,
            "status": self.status,
            "timeline_seq": len(self.events),
        }

    def start(self, at: datetime) -> Journey:
        self.events.append(JourneyStarted(**self.common(at)))
        return self

    def move(self, at: datetime, action: str, phase: Phase, status: Status = Status.ACTIVE, **extra: Any) -> Journey:
        before = (self.phase, self.status)
        if action == "reopen":
            self.episode += 1
        self.phase, self.status = phase, status
        self.events.append(
            JourneyMoved(**self.common(at), action=action, from_phase=before[0], from_status=before[1], **extra)
        )
        return self

    def milestone(self, at: datetime, kind: str, code: str | None = None, mode: str | None = None) -> Journey:
        self.events.append(
            MilestoneRecorded(**self.common(at), kind=kind, milestone_occurred_at=at, code=code, contact_mode=mode)
        )
        return self

    def reminder(self, at: datetime, kind: str) -> Journey:
        self.events.append(ReminderDue(**self.common(at), reminder=kind, due_at=at))
        return self

    def raw(self) -> list[dict[str, Any]]:
        """The events as the consumer receives them: decoded JSON."""
        return [e.model_dump(mode="json") for e in self.events]
