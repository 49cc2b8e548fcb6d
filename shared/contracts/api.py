"""HTTP API models that more than one service reads."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel

from shared.contracts.journey import Role


class Me(BaseModel):
    id: uuid.UUID
    username: str
    role: Role
    organisation_id: uuid.UUID
    region_id: str


class TokenRequest(BaseModel):
    username: str
    password: str


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


class ClientCreated(BaseModel):
    client_id: uuid.UUID
    journey_id: str


class ClientRecord(BaseModel):
    """A client as the registry shows it to a caller of the client's own organisation."""

    client_id: uuid.UUID
    organisation_id: uuid.UUID
    coach_id: uuid.UUID
    journey_id: str
    first_name: str
    last_name: str
    registered_at: datetime
