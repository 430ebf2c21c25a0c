"""Base for event-sourced aggregates: decide, record an event, apply it; replay runs the same code."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from typing import Any, ClassVar, Self
from uuid import UUID


class Event:
    """Marker base of every domain event; subclasses are frozen dataclasses inside an aggregate."""


class Aggregate:
    """An aggregate: state is a fold of its events; methods decide and record new ones."""

    stream_type: ClassVar[str]
    events: ClassVar[tuple[type[Event], ...]]  # the event classes declared inside this aggregate
    _appliers: ClassVar[dict[type[Event], Callable[[Any, Any], None]]]  # event class -> its _on_<Event>

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.stream_type = cls.__name__.lower()
        declared_events: list[type[Event]] = []
        for name, value in vars(cls).items():
            if isinstance(value, type) and issubclass(value, Event):
                # As object: narrowing type[Event] by is_dataclass leaves mypy nothing after it.
                declared: object = value
                if not dataclasses.is_dataclass(declared):
                    raise TypeError(f"{cls.__name__}.{name} must be a dataclass")
                # An event aliased from elsewhere still carries its aggregate in its name.
                value.__qualname__ = f"{cls.__name__}.{name}"
                declared_events.append(value)
        cls.events = tuple(declared_events)
        cls._appliers = {}

    def __init__(self, id: UUID) -> None:
        self.id = id
        self.version = 0  # events applied, stored and pending
        self.stored_version = 0  # events that came from the store
        self.last_position = 0  # global position of the last stored event
        self.pending: list[Event] = []
        self.shared = False  # a read-only view several decisions hold: it records nothing

    @classmethod
    def replay(cls, id: UUID, events: Iterable[Event], last_position: int = 0) -> Self:
        agg = cls.__new__(cls)
        Aggregate.__init__(agg, id)
        agg._init_state()
        for event in events:
            agg._apply(event)
            agg.version += 1
        agg.stored_version = agg.version
        agg.last_position = last_position
        return agg

    @classmethod
    def blank(cls, id: UUID) -> Self:
        """An aggregate with no history yet (a stream that does not exist)."""
        return cls.replay(id, [])

    @property
    def exists(self) -> bool:
        return self.version > 0

    def _init_state(self) -> None:
        """Set the state of an aggregate with no events."""

    def _record(self, event: Event) -> None:
        if self.shared:
            raise RuntimeError(f"{type(self).__name__} {self.id} is a view shared between decisions")
        self._apply(event)
        self.version += 1
        self.pending.append(event)

    def _apply(self, event: Event) -> None:
        applier = self._appliers.get(type(event)) or self._applier(type(event))
        applier(self, event)

    @classmethod
    def _applier(cls, event_class: type[Event]) -> Callable[[Any, Any], None]:
        """The `_on_<Event>` method that applies events of `event_class`, found once per class."""
        method = getattr(cls, "_on_" + event_class.__name__, None)
        if method is None:
            raise TypeError(f"{cls.__name__} has no _on_{event_class.__name__}")
        cls._appliers[event_class] = method
        return method  # type: ignore[no-any-return]

    def collect(self) -> list[Event]:
        """Hand over the pending events (they become stored once appended)."""
        events, self.pending = self.pending, []
        return events
