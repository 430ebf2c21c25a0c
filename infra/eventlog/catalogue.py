"""The catalogue of event types: wire names derived once, and the codec of payloads.

A domain event is a frozen dataclass declared inside its aggregate (`Course.Created`). Its wire
name, the `event_type` stored with it and the last token of its subject, is the aggregate's
name followed by the event's (`CourseCreated`). `wire_name` is the only place that rule lives;
everything that names, encodes or decodes an event goes through this module.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

import msgspec

_encoder = msgspec.json.Encoder()


class DeclaresEvents(Protocol):
    """What the catalogue needs of an aggregate class: its stream type and its event classes."""

    stream_type: str
    events: tuple[type[Any], ...]


def wire_name(event_class: type[Any]) -> str:
    """The stored name of an event class declared inside an aggregate: `Course.Created` -> `CourseCreated`."""
    return event_class.__qualname__.replace(".", "")


def encode(event: object) -> bytes:
    """The payload JSON of an event, exactly as it is stored and hashed."""
    return _encoder.encode(event)


def decoder_for(event_class: type[Any]) -> Callable[[bytes | msgspec.Raw], Any]:
    """A function that decodes payloads of one event class."""
    return msgspec.json.Decoder(event_class).decode


class UnknownEventType(LookupError):
    """A stored event type no aggregate of this build declares."""


class EventCatalogue:
    """Every event type of a set of aggregates, by wire name."""

    def __init__(self, aggregates: Iterable[DeclaresEvents]) -> None:
        self.aggregates = tuple(aggregates)
        self._classes: dict[str, type[Any]] = {}
        self._stream_types: dict[str, str] = {}
        for aggregate in self.aggregates:
            for event_class in aggregate.events:
                name = wire_name(event_class)
                if name in self._classes:
                    raise ValueError(f"two event types are named {name!r}")
                self._classes[name] = event_class
                self._stream_types[name] = aggregate.stream_type
        self._decoders = {name: decoder_for(cls) for name, cls in self._classes.items()}

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._classes))

    def __contains__(self, name: object) -> bool:
        return name in self._classes

    def event_class(self, name: str) -> type[Any]:
        try:
            return self._classes[name]
        except KeyError:
            raise UnknownEventType(f"unknown event type {name!r}") from None

    def stream_type(self, name: str) -> str:
        """The stream type (aggregate) an event type belongs to."""
        self.event_class(name)
        return self._stream_types[name]

    def decode(self, name: str, payload: bytes | msgspec.Raw) -> Any:
        """The event of type `name` from its payload JSON."""
        try:
            decoder = self._decoders[name]
        except KeyError:
            raise UnknownEventType(f"unknown event type {name!r}") from None
        return decoder(payload)

    def decode_each(self, names: Iterable[str], payloads: Iterable[bytes | msgspec.Raw]) -> Iterator[Any]:
        """The events of these types and payloads, one at a time: a replay applies each before
        the next is decoded, so the events it is done with are freed as it goes."""
        decoders = self._decoders
        for name, payload in zip(names, payloads, strict=True):
            decoder = decoders.get(name)
            if decoder is None:
                raise UnknownEventType(f"unknown event type {name!r}")
            yield decoder(payload)

    def markdown(self, subject_prefix: str = "cw") -> str:
        """The catalogue as a Markdown page: every event type, its subject and its payload fields."""
        lines = [
            "# Event catalogue",
            "",
            "Generated from the event declarations by `python -m commands.eventdocs`; a test fails",
            "when this page and the code disagree. Each event is published on JetStream as an",
            "`EventEnvelope` (schemas/envelope.py) whose `payload` holds the fields below.",
        ]
        for aggregate in self.aggregates:
            lines += [
                "",
                f"## {aggregate.stream_type}",
                "",
                "| event type | subject | payload fields |",
                "| --- | --- | --- |",
            ]
            for event_class in aggregate.events:
                name = wire_name(event_class)
                fields = ", ".join(
                    f"`{f.name}: {f.type if isinstance(f.type, str) else getattr(f.type, '__name__', f.type)}`"
                    for f in dataclasses.fields(event_class)
                )
                subject = f"{subject_prefix}.evt.{aggregate.stream_type}.{name}"
                lines.append(f"| `{name}` | `{subject}` | {fields or 'none'} |")
        return "\n".join(lines) + "\n"
