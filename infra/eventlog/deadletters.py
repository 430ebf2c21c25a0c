"""Dead letters: events a consumer could not handle, published where operators can see them.

Every consumer of the events stream parks a poison event on `<prefix>.dlq.<consumer>.<EventType>`
in the JetStream stream `<events stream>_DLQ`, with the error, and goes on with the next one.
The message id `<consumer>:<event id>` makes a repeated park a duplicate, not a second letter.
"""

from __future__ import annotations

import contextlib

import msgspec
import nats.js.errors
from nats.js import JetStreamContext
from nats.js.api import StorageType, StreamConfig

from infra.errors import Unavailable
from infra.nats import NatsFailure
from infra.settings import Settings
from schemas.envelope import Headers


def dead_letter_stream(settings: Settings) -> str:
    return f"{settings.events_stream}_DLQ"


async def delete_streams(js: JetStreamContext, settings: Settings) -> None:
    """Delete the events stream `settings` names and its dead-letter stream, with their consumers,
    where they exist: the cleanup of a scratch run (the generation eval's, a test's)."""
    for name in (settings.events_stream, dead_letter_stream(settings)):
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await js.delete_stream(name)


def dead_letter_subject(settings: Settings, consumer: str, event_type: str) -> str:
    return f"{settings.subject_prefix}.dlq.{consumer}.{event_type}"


class DeadLetter(msgspec.Struct, kw_only=True):
    """What a dead letter says: who gave up on which event, and why."""

    consumer: str
    position: int | None
    event_id: str | None
    event_type: str
    stream_id: str | None
    error: str
    payload: msgspec.Raw = msgspec.field(default_factory=lambda: msgspec.Raw(b"null"))  # when it could be read


class DeadLetters:
    """Publishes dead letters of one consumer."""

    def __init__(self, js: JetStreamContext, settings: Settings, consumer: str) -> None:
        self.js = js
        self.settings = settings
        self.consumer = consumer

    async def ensure_stream(self) -> None:
        """Create the dead-letter stream if it does not exist yet."""
        name = dead_letter_stream(self.settings)
        try:
            await self.js.stream_info(name)
        except nats.js.errors.NotFoundError:
            with contextlib.suppress(nats.js.errors.BadRequestError):  # lost a creation race
                await self.js.add_stream(
                    StreamConfig(
                        name=name,
                        subjects=[f"{self.settings.subject_prefix}.dlq.>"],
                        storage=StorageType.FILE,
                        num_replicas=self.settings.stream_replicas,
                    )
                )
        except NatsFailure as e:
            raise Unavailable("nats", repr(e)) from e

    async def park(self, letter: DeadLetter) -> None:
        """Publish one dead letter (raises Unavailable when NATS does not take it)."""
        headers = {
            "Nats-Msg-Id": f"{self.consumer}:{letter.event_id or letter.position}",
            "Cw-Consumer": self.consumer,
            "Cw-Error": letter.error.splitlines()[0][:200] if letter.error else "",
        }
        if letter.position is not None:
            headers[Headers.POSITION] = str(letter.position)
        subject = dead_letter_subject(self.settings, self.consumer, letter.event_type or "_")
        try:
            await self.js.publish(subject, msgspec.json.encode(letter), headers=headers)
        except NatsFailure as e:
            raise Unavailable("nats", repr(e)) from e
