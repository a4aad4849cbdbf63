"""Where a run's events go: Prefect's event API (live) or a list (the tests' fake)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol
from uuid import UUID


@dataclass(frozen=True)
class OutgoingEvent:
    """One event as Prefect's `emit_event` takes it."""

    event: str
    resource: dict[str, str]
    related: list[dict[str, str]]
    payload: dict[str, Any]
    id: UUID


class EventSink(Protocol):
    """Sends events."""

    def emit(self, event: OutgoingEvent) -> None: ...


class PrefectEvents:
    """Prefect's `emit_event`: the run's Prefect server (or Cloud) receives it; the flow, its
    deployment and tags are attached as related resources from the run's context."""

    def emit(self, event: OutgoingEvent) -> None:
        from prefect.events import emit_event

        emit_event(
            event=event.event,
            resource=event.resource,
            related=event.related,
            payload=event.payload,
            id=event.id,
        )


@dataclass
class RecordedEvents:
    """An `EventSink` that keeps what it was given (for tests)."""

    sent: list[OutgoingEvent] = field(default_factory=list)

    def emit(self, event: OutgoingEvent) -> None:
        self.sent.append(event)

    def named(self, name: str) -> list[OutgoingEvent]:
        """The events of one name, in the order sent."""
        return [e for e in self.sent if e.event == name]
