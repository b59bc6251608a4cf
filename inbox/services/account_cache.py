"""A per-process cache of what a webhook needs to know about its channel account.

A signed webhook must check the signature and append the raw event before it answers; looking
the account up through the ORM on every request cost more than the insert itself. The cache
holds a small frozen snapshot (id, tenant, kind, external id, config and secret references; the
secrets themselves are read from the environment as before) for WEBHOOK_ACCOUNT_CACHE_SECONDS
(default 5). A change made through our own code (the ORM: admin pages, CLI, API) clears the
cache of the process that made it at once; other processes see it within the TTL. Lookups
that found nothing are cached too, so forged requests for unknown ids cost no query either.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeVar

from flask import current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

from inbox.models import ChannelAccount, ChannelKind, Tenant
from inbox.models.secrets import StoredSecret

T = TypeVar("T")
DEFAULT_TTL = 5.0
MAX_ENTRIES = 4096  # far more than any installation's accounts; bounds forged-id lookups

# The clock the TTL is measured with (tests move it instead of sleeping).
clock: Callable[[], float] = time.monotonic

_entries: dict[Hashable, tuple[float, Any]] = {}
_lock = threading.Lock()
_generation = 0  # bumped by every invalidation, so a lookup racing one is not stored
_installed = False


@dataclass(frozen=True)
class AccountRef:
    """What signature checking and the event insert read of a channel account."""

    id: int
    tenant_id: int
    kind: ChannelKind
    external_id: str
    enabled: bool
    team_id: int | None = None
    config: Mapping[str, Any] = field(default_factory=dict)
    secret_refs: Mapping[str, Any] = field(default_factory=dict)


def snapshot(account: ChannelAccount) -> AccountRef:
    return AccountRef(
        id=account.id,
        tenant_id=account.tenant_id,
        kind=account.kind,
        external_id=account.external_id,
        enabled=bool(account.enabled),
        team_id=account.team_id,
        config=MappingProxyType(dict(account.config or {})),
        secret_refs=MappingProxyType(dict(account.secret_refs or {})),
    )


def ttl() -> float:
    if has_app_context():
        return float(current_app.config.get("WEBHOOK_ACCOUNT_CACHE_SECONDS", DEFAULT_TTL))
    return DEFAULT_TTL


def cached(key: Hashable, load: Callable[[], T]) -> T:
    """The value cached under `key`, or `load()` (stored for the TTL)."""
    seconds = ttl()
    now = clock()
    hit = _entries.get(key)
    if hit is not None and hit[0] > now:
        return hit[1]  # type: ignore[no-any-return]
    generation = _generation
    value = load()
    if seconds > 0:
        with _lock:
            if generation == _generation:
                if len(_entries) >= MAX_ENTRIES:
                    _entries.clear()
                _entries[key] = (now + seconds, value)
    return value


def invalidate() -> None:
    """Forget everything (an account was added, changed or removed)."""
    global _generation
    with _lock:
        _generation += 1
        _entries.clear()


def install() -> None:
    """Clear the cache whenever a channel account, a stored secret or a municipality is
    written through the ORM, at the flush and again at the commit (a lookup between the two
    would have read the old row)."""
    global _installed
    if _installed:
        return
    event.listen(Session, "after_flush", _after_flush)
    event.listen(Session, "after_commit", _after_commit)
    _installed = True


_TOUCHED = "servicetorg.accounts_touched"


def _after_flush(session: Session, flush_context: Any) -> None:
    touched = [
        obj
        for obj in (*session.new, *session.dirty, *session.deleted)
        # an account, its stored secrets, or its municipality (taken out of service)
        if isinstance(obj, ChannelAccount | StoredSecret | Tenant)
    ]
    if touched:
        session.info[_TOUCHED] = True
        invalidate()


def _after_commit(session: Session) -> None:
    if session.info.pop(_TOUCHED, None):
        invalidate()
