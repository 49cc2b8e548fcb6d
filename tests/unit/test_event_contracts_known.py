"""known_event: what a consumer does with a message body it cannot read."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, datetime

import pytest

from shared.contracts.events import JourneyStarted, known_event
from shared.contracts.journey import Phase, Status

ORG = uuid.uuid4()


def _started() -> dict[str, object]:
    client_id = uuid.uuid4()
    event = JourneyStarted(
        organisation_id=ORG,
        region_id="kymenlaakso",
        occurred_at=datetime.now(UTC),
        client_id=client_id,
        journey_id=f"journey-{ORG}-{client_id}",
        coach_id=uuid.uuid4(),
        phase=Phase.INTAKE,
        status=Status.ACTIVE,
    )
    return event.model_dump(mode="json")


def test_a_known_event_reads_from_decoded_json_and_from_bytes() -> None:
    body = _started()
    event = known_event(body)
    assert isinstance(event, JourneyStarted) and str(event.id) == body["id"]
    assert known_event(json.dumps(body).encode()) == event


@pytest.mark.parametrize(
    "body",
    [
        {"id": str(uuid.uuid4()), "type": "journey.something_new", "organisation_id": str(ORG)},
        {"type": "journey.started"},
        b"{not json",
        "Aino Korhonen 010190-123A",
        None,
    ],
)
def test_an_unknown_or_malformed_body_is_none_and_only_its_type_code_is_logged(
    body: object, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        assert known_event(body) is None
    assert "event skipped" in caplog.text
    assert "Aino" not in caplog.text and "010190" not in caplog.text


def test_a_type_that_is_not_a_code_is_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        assert known_event({"type": "Aino Korhonen, 010190-123A"}) is None
    assert "Aino" not in caplog.text and "(type unreadable)" in caplog.text
