"""The JetStream streams Polku's events live in, one per domain area."""

from __future__ import annotations

from dataclasses import dataclass

from faststream.nats import JStream

# Duplicates of an event id inside this window are stored once. Long enough to cover
# a worker that crashed mid-publish and was restarted.
DUPLICATE_WINDOW_S = 3600.0


@dataclass(frozen=True)
class StreamSpec:
    name: str
    area: str
    subjects: tuple[str, ...]


STREAMS: tuple[StreamSpec, ...] = (
    StreamSpec("POLKU_JOURNEY", "journey", ("polku.*.journey.>",)),
    StreamSpec(
        "POLKU_INTAKE",
        "intake",
        ("polku.*.referral.>", "polku.*.client.>", "polku.*.consent.>", "polku.*.quick_help.>"),
    ),
    StreamSpec(
        "POLKU_EMPLOYER",
        "employer",
        (
            "polku.*.employer.>",
            "polku.*.employer_contact.>",
            "polku.*.opening.>",
            "polku.*.placement.>",
        ),
    ),
    StreamSpec("POLKU_COACHING", "coaching", ("polku.*.assessment.>", "polku.*.feedback.>")),
)
STREAM_BY_AREA: dict[str, StreamSpec] = {s.area: s for s in STREAMS}


def _replicas(num_replicas: int | None) -> int:
    """An explicit count, else ``POLKU_NATS_STREAM_REPLICAS``.

    Every process that declares a stream (FastStream declares its subscribers' streams at
    start, and updates them when the config differs) must ask for the same count, or a
    process asking for fewer would scale a clustered stream down.
    """
    if num_replicas is not None:
        return num_replicas
    from shared.settings import get_settings

    return get_settings().nats_stream_replicas


def jstream(area: str, num_replicas: int | None = None) -> JStream:
    spec = STREAM_BY_AREA[area]
    return JStream(
        spec.name,
        subjects=list(spec.subjects),
        duplicate_window=DUPLICATE_WINDOW_S,
        num_replicas=_replicas(num_replicas),
    )


async def ensure_streams(nats_url: str, num_replicas: int | None = None) -> list[str]:
    """Create or update every stream (idempotent). Returns the stream names.

    ``num_replicas`` None: ``POLKU_NATS_STREAM_REPLICAS`` (see ``_replicas``)."""
    num_replicas = _replicas(num_replicas)
    import nats
    from nats.js.api import StreamConfig
    from nats.js.errors import NotFoundError

    nc = await nats.connect(nats_url, connect_timeout=5, max_reconnect_attempts=3)
    try:
        js = nc.jetstream()
        for spec in STREAMS:
            config = StreamConfig(
                name=spec.name,
                subjects=list(spec.subjects),
                duplicate_window=DUPLICATE_WINDOW_S,
                num_replicas=num_replicas,
            )
            try:
                await js.stream_info(spec.name)
                await js.update_stream(config)
            except NotFoundError:
                await js.add_stream(config)
    finally:
        await nc.close()
    return [s.name for s in STREAMS]
