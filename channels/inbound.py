"""Turning stored inbound events into messages: the batch a worker fills and runs.

Each channel registers a handler per event kind (HANDLERS below). A handler reads one raw
event with the channel's own parse functions and adds steps to the batch: `store` for a new
inbound message (all consecutive ones go to `ingest_many` together), `apply` for anything else
(a delivery status, an edited or removed comment), `later` for work after the commit
(downloading files). Steps run in the order the events arrived. A handler raises
InvalidPayload for an event of the wrong shape; the worker parks that event.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from importlib import import_module
from typing import Any

from inbox.models import ChannelAccount, InboundEvent
from inbox.services.ingest import InboundMessage, ingest_stored
from inbox.services.ingest_batch import Stored

# kind -> "module:function(event, account, batch)"
HANDLERS: dict[str, str] = {
    "sms": "channels.twilio_sms.events:handle_inbound",
    "sms_status": "channels.twilio_sms.events:handle_status",
    "facebook": "channels.facebook.inbound:handle",
    "instagram": "channels.instagram.inbound:handle",
    "comments": "channels.wordpress.inbound:handle",
    "webchat": "channels.webchat.inbound:handle",
}

# Run on each group of new messages before it is stored, to fill in what is cheaper to look up
# for the whole group at once than per message: "module:function(items)".
PREPARE: tuple[str, ...] = ("channels.sms_alerts.replies:thread_many",)

Handler = Callable[[InboundEvent, ChannelAccount, "Batch"], None]
_loaded: dict[str, Handler] = {}


def handler_for(kind: str) -> Handler:
    if kind not in _loaded:
        module, _, name = HANDLERS[kind].partition(":")
        _loaded[kind] = getattr(import_module(module), name)
    return _loaded[kind]


class EventFailed(Exception):
    """Processing failed because of this one event; the rest of the batch is not to blame."""

    def __init__(self, event_id: int, error: BaseException) -> None:
        super().__init__(f"event {event_id}: {error!r}")
        self.event_id = event_id
        self.error = error


@dataclass
class _Store:
    event_id: int
    account: ChannelAccount
    inbound: InboundMessage
    after: Callable[[Stored], Any] | None


@dataclass
class _Apply:
    event_id: int
    fn: Callable[[], Any]


class Batch:
    def __init__(self) -> None:
        self.event_id = 0  # the event whose handler is adding steps
        self.steps: list[_Store | _Apply] = []
        self.after_commit: list[Callable[[], Any]] = []

    def store(
        self,
        account: ChannelAccount,
        inbound: InboundMessage,
        after: Callable[[Stored], Any] | None = None,
    ) -> None:
        """Store an inbound message; `after(stored)` runs in the same transaction (`stored`:
        the message's id, whether it is new, the message itself on first use)."""
        self.steps.append(_Store(self.event_id, account, inbound, after))

    def apply(self, fn: Callable[[], Any]) -> None:
        self.steps.append(_Apply(self.event_id, fn))

    def later(self, fn: Callable[[], Any]) -> None:
        """Run after the batch is committed (its failure never costs a message)."""
        self.after_commit.append(fn)

    def run(self) -> None:
        group: list[_Store] = []
        for step in self.steps:
            if isinstance(step, _Store):
                group.append(step)
                continue
            self._store(group)
            group = []
            _attributed(step.event_id, step.fn)
        self._store(group)

    def _store(self, group: list[_Store]) -> None:
        if not group:
            return
        items = [(s.account, s.inbound) for s in group]
        for path in PREPARE:
            module, _, name = path.partition(":")
            getattr(import_module(module), name)(items)
        results = ingest_stored(items)
        for step, stored in zip(group, results, strict=True):
            if step.after is not None:
                _attributed(step.event_id, partial(step.after, stored))


def _attributed(event_id: int, fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except EventFailed:
        raise
    except Exception as exc:
        raise EventFailed(event_id, exc) from exc
