"""Sending an alert: each recipient handed to Twilio exactly once, whatever dies on the way.

A worker claims one recipient at a time (QUEUED -> SENDING, with a lease) and commits the
claim before it calls Twilio, so no two workers ever send to the same recipient. When the
answer is lost (timeout, connection dropped, a proxy's page) or the worker is killed after the
call, the recipient is marked uncertain: Twilio may have the SMS. The next attempt first asks
Twilio's Messages list for a message from us to that number with the alert's text since the
uncertain attempt began (channels/twilio_sms/reconcile.py, as replies do), adopts it if there
is one, and sends only when Twilio positively has none, ALERT_SETTLE_SECONDS after the attempt.

Batches hold ALERT_RATE_PER_SECOND: a worker spaces its calls to Twilio, and one batch at a
time sends an alert (Alert.batch_until, a hold that runs out by itself if its worker dies). A
batch task re-queues itself until no recipient is left; the sweeper
(workers/housekeeping.py) takes back recipients whose worker died and kicks alerts whose task
was lost.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from flask import current_app
from requests import RequestException
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import aliased
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException

from channels.interfaces import AmbiguousSendError, PermanentSendError
from channels.twilio_sms import reconcile, services
from channels.twilio_sms.client import make_client
from channels.twilio_sms.connector import TwilioSmsConnector, _never_sent
from channels.twilio_sms.errors import explain
from inbox.db import enqueue
from inbox.extensions import db
from inbox.models import (
    Alert,
    AlertRecipient,
    AlertState,
    ChannelAccount,
    ContactIdentity,
    DeliveryStatus,
    IdentityKind,
    RecipientState,
)
from inbox.models.base import utcnow

log = logging.getLogger(__name__)

BATCH_TASK = "servicetorg.outbound.alert_batch"
UNFINISHED = (RecipientState.QUEUED, RecipientState.SENDING)
# Twilio status -> recipient state (Twilio's "queued" means it took the message).
STATE_OF = {
    DeliveryStatus.SENDING: RecipientState.SENT,
    DeliveryStatus.SENT: RecipientState.SENT,
    DeliveryStatus.DELIVERED: RecipientState.DELIVERED,
    DeliveryStatus.READ: RecipientState.DELIVERED,
    DeliveryStatus.UNDELIVERED: RecipientState.UNDELIVERED,
    DeliveryStatus.FAILED: RecipientState.FAILED,
}


def lease() -> timedelta:
    return timedelta(seconds=current_app.config["SEND_LEASE_SECONDS"])


def settle_time() -> timedelta:
    return timedelta(seconds=current_app.config["ALERT_SETTLE_SECONDS"])


def callback_url(account: ChannelAccount, recipient_id: int) -> str | None:
    base = current_app.config.get("PUBLIC_BASE_URL")
    if not base:
        return None
    return f"{str(base).rstrip('/')}/webhooks/twilio/{account.id}/status?a={recipient_id}"


def opted_out_among(tenant_id: int, phones: list[str]) -> set[str]:
    """Which of these numbers sent STOP (one query for a batch)."""
    if not phones:
        return set()
    return set(
        db.session.scalars(
            select(ContactIdentity.value).where(
                ContactIdentity.tenant_id == tenant_id,
                ContactIdentity.kind == IdentityKind.PHONE,
                ContactIdentity.value.in_(phones),
                ContactIdentity.opted_out_at.is_not(None),
            )
        )
    )


# --- the batch ------------------------------------------------------------------------------


def run_batch(alert_id: int) -> dict[str, int]:
    """Send up to ALERT_BATCH_SIZE recipients of the alert at the configured rate; queue the
    next batch when more are due. Returns counts of what this batch did."""
    size = int(current_app.config["ALERT_BATCH_SIZE"])
    gap = 1.0 / float(current_app.config["ALERT_RATE_PER_SECOND"])
    if not _hold(alert_id, size * gap):
        db.session.commit()
        return {"busy": 1}  # another batch is sending it; it queues the next one
    alert = db.session.get(Alert, alert_id)
    assert alert is not None
    take_back_abandoned(alert_id)
    db.session.commit()
    now = utcnow()
    ids = list(
        db.session.scalars(
            select(AlertRecipient.id)
            .where(
                AlertRecipient.alert_id == alert_id,
                AlertRecipient.state == RecipientState.QUEUED,
                or_(
                    AlertRecipient.next_attempt_at.is_(None), AlertRecipient.next_attempt_at <= now
                ),
            )
            .order_by(AlertRecipient.id)
            .limit(size)
        )
    )
    db.session.commit()
    counts: dict[str, int] = {}
    account = db.session.get(ChannelAccount, alert.channel_account_id)
    if account is None:
        finish_or_continue(alert_id)
        return counts
    client = None
    last = 0.0
    job = Job.of(alert, account)
    phones = list(
        db.session.scalars(select(AlertRecipient.phone).where(AlertRecipient.id.in_(ids)))
    )
    blocked = opted_out_among(alert.tenant_id, phones)
    db.session.commit()
    for n, rid in enumerate(ids, start=1):
        if n % 50 == 0:  # a long batch (slow answers) keeps its hold
            _hold(alert_id, (len(ids) - n) * gap, renew=True)
            db.session.commit()
        wait = last + gap - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        last = time.monotonic()
        if client is None:
            try:
                client = make_client(account)
            except services.NotConfigured as exc:
                log.error("alert %s: %s", alert_id, exc)
                alert_row = db.session.get(Alert, alert_id)
                if alert_row is not None:
                    alert_row.batch_until = None  # kicked again by the sweeper
                db.session.commit()
                return counts
        outcome = send_one(rid, client=client, job=job, blocked=blocked)
        counts[outcome] = counts.get(outcome, 0) + 1
    finish_or_continue(alert_id)
    return counts


def _hold(alert_id: int, seconds: float, renew: bool = False) -> bool:
    """Take (or renew) the alert's batch hold: only one batch sends an alert at a time. The
    hold lasts the batch's paced sending plus a send lease, so a batch whose worker was killed
    frees it by itself."""
    now = utcnow()
    until = now + timedelta(seconds=seconds) + lease()
    q = update(Alert).where(Alert.id == alert_id, Alert.state == AlertState.SENDING)
    if not renew:
        q = q.where(or_(Alert.batch_until.is_(None), Alert.batch_until <= now))
    return bool(db.session.execute(q.values(batch_until=until)).rowcount == 1)


def finish_or_continue(alert_id: int) -> None:
    """Mark the alert done when nobody is left to send to, else queue the next batch if some
    are due now (later retries are kicked by the sweeper). Releases the batch hold."""
    alert = db.session.get(Alert, alert_id, with_for_update=True)
    if alert is None:
        db.session.commit()
        return
    alert.batch_until = None
    if alert.state is not AlertState.SENDING:
        db.session.commit()
        return
    now = utcnow()
    left = db.session.execute(
        select(AlertRecipient.state, func.count())
        .where(AlertRecipient.alert_id == alert_id, AlertRecipient.state.in_(UNFINISHED))
        .group_by(AlertRecipient.state)
    ).all()
    if not left:
        alert.state, alert.finished_at = AlertState.DONE, now
    elif db.session.scalar(
        select(AlertRecipient.id)
        .where(
            AlertRecipient.alert_id == alert_id,
            AlertRecipient.state == RecipientState.QUEUED,
            or_(AlertRecipient.next_attempt_at.is_(None), AlertRecipient.next_attempt_at <= now),
        )
        .limit(1)
    ):
        enqueue(BATCH_TASK, alert_id)
    db.session.commit()


def take_back_abandoned(alert_id: int | None = None) -> int:
    """Recipients whose worker died while sending (lease ran out): queued again, uncertain,
    and due once a lookup at Twilio can be believed. One that Twilio's status callback named
    meanwhile is sent: it is kept as such. Flushes, never commits."""
    now = utcnow()
    q = select(AlertRecipient).where(
        AlertRecipient.state == RecipientState.SENDING, AlertRecipient.lease_until <= now
    )
    if alert_id is not None:
        q = q.where(AlertRecipient.alert_id == alert_id)
    rows = db.session.scalars(q.limit(1000).with_for_update(skip_locked=True)).all()
    for r in rows:
        assert r.lease_until is not None
        if r.provider_sid:
            r.state, r.lease_until = RecipientState.SENT, None
            continue
        r.uncertain_since = r.uncertain_since or r.lease_until - lease()
        r.state, r.lease_until = RecipientState.QUEUED, None
        r.next_attempt_at = now + settle_time()
    if rows:
        log.warning("took back %d alert recipients whose worker died while sending", len(rows))
    db.session.flush()
    return len(rows)


# --- one recipient --------------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    """What sending needs of the alert and its number, read once per batch (plain values:
    every commit would expire the ORM objects and read them again)."""

    alert_id: int
    tenant_id: int
    body: str
    sender: str
    account_id: int
    external_id: str
    config: dict[str, Any]

    @classmethod
    def of(cls, alert: Alert, account: ChannelAccount) -> Job:
        return cls(
            alert.id,
            alert.tenant_id,
            alert.body,
            alert.sender,
            account.id,
            account.external_id,
            dict(account.config or {}),
        )

    def account(self) -> Any:
        """Enough of the channel account for the Twilio client and reconcile's checks."""
        return SimpleNamespace(id=self.account_id, external_id=self.external_id, config=self.config)


def job_of(alert_id: int) -> Job:
    alert = db.session.get(Alert, alert_id)
    assert alert is not None
    account = db.session.get(ChannelAccount, alert.channel_account_id)
    assert account is not None
    return Job.of(alert, account)


def send_one(
    recipient_id: int, client: Any = None, job: Job | None = None, blocked: set[str] | None = None
) -> str:
    """Hand one recipient's SMS to Twilio, at most once. Returns the outcome.

    `blocked`: numbers of the batch that opted out (read once per batch); without it the
    recipient's number is looked up."""
    claimed = db.session.execute(
        update(AlertRecipient)
        .where(AlertRecipient.id == recipient_id, AlertRecipient.state == RecipientState.QUEUED)
        .values(
            state=RecipientState.SENDING,
            attempts=AlertRecipient.attempts + 1,
            lease_until=utcnow() + lease(),
        )
        .returning(
            AlertRecipient.alert_id,
            AlertRecipient.phone,
            AlertRecipient.uncertain_since,
            AlertRecipient.attempts,
        )
    ).first()
    db.session.commit()
    if claimed is None:
        return "skipped"
    alert_id, phone, uncertain_since, attempts = claimed
    if uncertain_since is not None and uncertain_since.tzinfo is None:
        uncertain_since = uncertain_since.replace(tzinfo=UTC)
    job = job if job is not None and job.alert_id == alert_id else job_of(alert_id)
    if client is None:
        client = make_client(db.session.get(ChannelAccount, job.account_id))  # type: ignore[arg-type]
    if uncertain_since is not None:
        try:
            found = _find(client, job, phone, uncertain_since)
        except (RequestException, TwilioException, OSError, ValueError) as exc:
            log.info("alert recipient %s: Twilio could not be asked: %s", recipient_id, exc)
            return _later(recipient_id, 30, "lookup")
        if found is not None:
            result = reconcile.adopt(found)
            return _sent(recipient_id, result.provider_message_id, result.status, result.error_code)
    opted_out = (
        phone in blocked if blocked is not None else services.is_opted_out(job.tenant_id, phone)
    )
    if opted_out:
        return _failed(recipient_id, "21610")
    started = utcnow()
    args: dict[str, Any] = {"to": phone, "body": job.body}
    service_sid = job.config.get("messaging_service_sid")
    if job.sender == "service" and service_sid:
        args["messaging_service_sid"] = service_sid
    else:
        args["from_"] = job.external_id
    callback = callback_url(job.account(), recipient_id)
    if callback:
        args["status_callback"] = callback
    try:
        sent = client.messages.create(**args)
    except (TwilioRestException, TwilioServiceException) as exc:
        err = TwilioSmsConnector._classify(exc)  # noqa: SLF001 - the same rules as replies
        if isinstance(err, AmbiguousSendError):
            return _uncertain(recipient_id, uncertain_since or started)
        if isinstance(err, PermanentSendError):
            return _failed(recipient_id, err.code or "")
        retry = getattr(err, "retry_after", None) or min(10 * 2 ** (attempts - 1), 600)
        return _later(recipient_id, retry, err.code or "transient")
    except (RequestException, TwilioException, OSError, ValueError) as exc:
        if isinstance(exc, RequestException) and _never_sent(exc):
            return _later(recipient_id, min(10 * 2 ** (attempts - 1), 600), "unreachable")
        return _uncertain(recipient_id, uncertain_since or started)
    status = services.STATUS_MAP.get(str(sent.status), DeliveryStatus.SENDING)
    return _sent(recipient_id, sent.sid, status, None)


def _find(client: Any, job: Job, phone: str, since: datetime) -> Any | None:
    """The message an uncertain attempt created at Twilio, if any (not one another recipient
    row already holds, e.g. an earlier alert with the same text)."""
    like = SimpleNamespace(id=-1, body=job.body)
    cfg = dict(job.config)
    if job.sender != "service":
        cfg.pop("messaging_service_sid", None)
    acc = SimpleNamespace(id=job.account_id, external_id=job.external_id, config=cfg)
    start = since.replace(microsecond=0) - reconcile.CLOCK_SLACK
    filters: dict[str, Any] = {"to": phone}
    if not cfg.get("messaging_service_sid"):
        filters["from_"] = job.external_id
    records: dict[str, Any] = {}
    for item in client.messages.stream(date_sent_after=start, page_size=100, **filters):
        records[item.sid] = item
    for item in client.messages.stream(
        limit=reconcile.RECENT, page_size=reconcile.RECENT, **filters
    ):
        records.setdefault(item.sid, item)
    found = [
        i
        for i in records.values()
        if reconcile._could_be(i, start, acc, like, phone)  # noqa: SLF001
    ]
    if not found:
        return None
    taken = set(
        db.session.scalars(
            select(AlertRecipient.provider_sid).where(
                AlertRecipient.tenant_id == job.tenant_id,
                AlertRecipient.provider_sid.in_([i.sid for i in found]),
            )
        )
    )
    free = [i for i in found if i.sid not in taken]
    return min(free, key=lambda i: (i.date_created, i.sid)) if free else None


def _mine(rid: int) -> Any:
    """The recipient row while this worker holds it and Twilio has not named it (a status
    callback that names it first has settled it)."""
    return update(AlertRecipient).where(
        AlertRecipient.id == rid,
        AlertRecipient.state == RecipientState.SENDING,
        AlertRecipient.provider_sid.is_(None),
    )


def _release(rid: int) -> None:
    db.session.execute(
        update(AlertRecipient)
        .where(AlertRecipient.id == rid)
        .values(lease_until=None, uncertain_since=None, next_attempt_at=None)
    )


def _sent(rid: int, sid: str | None, status: DeliveryStatus, code: str | None) -> str:
    state = STATE_OF.get(status, RecipientState.SENT)
    if state.rank < RecipientState.SENT.rank:
        state = RecipientState.SENT
    values: dict[str, Any] = {
        "state": state,
        "provider_sid": sid,
        "sent_at": utcnow(),
        "lease_until": None,
        "uncertain_since": None,
        "next_attempt_at": None,
        "error_code": code,
        "error_message": explain(code) if code else None,
    }
    if db.session.execute(_mine(rid).values(**values)).rowcount != 1:
        _release(rid)  # a status callback got here first and recorded it
    db.session.commit()
    return "sent"


def _failed(rid: int, code: str) -> str:
    values = {
        "state": RecipientState.FAILED,
        "lease_until": None,
        "next_attempt_at": None,
        "error_code": code or None,
        "error_message": explain(code) if code else None,
    }
    if db.session.execute(_mine(rid).values(**values)).rowcount != 1:
        _release(rid)
    db.session.commit()
    return "failed"


def _uncertain(rid: int, since: datetime) -> str:
    """No answer: Twilio may have it. Due again once a lookup can be believed."""
    values = {
        "state": RecipientState.QUEUED,
        "lease_until": None,
        "uncertain_since": since,
        "next_attempt_at": utcnow() + settle_time(),
    }
    if db.session.execute(_mine(rid).values(**values)).rowcount != 1:
        _release(rid)
    db.session.commit()
    return "uncertain"


def _later(rid: int, seconds: float, why: str) -> str:
    values = {
        "state": RecipientState.QUEUED,
        "lease_until": None,
        "next_attempt_at": utcnow() + timedelta(seconds=seconds),
        "error_code": why[:32],
    }
    if db.session.execute(_mine(rid).values(**values)).rowcount != 1:
        _release(rid)
    db.session.commit()
    return "retry"


# --- status callbacks -----------------------------------------------------------------------


def apply_status(
    account: ChannelAccount, sid: str, twilio_status: str, error_code: str | None, rid: int | None
) -> AlertRecipient | None:
    """A status callback for an alert SMS (its URL names the recipient row). Never moves a
    state backwards. Flushes, never commits."""
    status = services.STATUS_MAP.get((twilio_status or "").lower())
    if status is None:
        return None
    base = select(AlertRecipient).join(Alert, Alert.id == AlertRecipient.alert_id)
    base = base.where(Alert.channel_account_id == account.id)
    r = db.session.scalar(base.where(AlertRecipient.provider_sid == sid).with_for_update())
    if r is None and rid is not None:
        r = db.session.scalar(
            base.where(
                AlertRecipient.id == rid, AlertRecipient.provider_sid.is_(None)
            ).with_for_update()
        )
        if r is not None:
            r.provider_sid = sid  # the callback beat the worker's commit of the SID
            r.sent_at = r.sent_at or utcnow()
    if r is None:
        return None
    state = STATE_OF.get(status, RecipientState.SENT)
    if state.rank > r.state.rank:
        r.state = state
        if r.lease_until is not None and state.rank >= RecipientState.SENT.rank:
            r.lease_until = r.uncertain_since = r.next_attempt_at = None
    failed = state in (RecipientState.FAILED, RecipientState.UNDELIVERED)
    code = error_code if failed and error_code and error_code != "0" else None
    if code:
        r.error_code, r.error_message = code, explain(code)
        if code == "21610":
            services.set_opt_out(account.tenant_id, r.phone, True)
    db.session.flush()
    return r


# --- sweeper --------------------------------------------------------------------------------


def stalled(now: datetime, stale: datetime) -> list[tuple[str, tuple[Any, ...]]]:
    """Alerts still sending with recipients due and no progress since `stale` (their batch
    task was lost with a killed worker, or the next one is due after a back-off): kick them
    again. An alert a worker is sending is left alone, so batches do not run side by side
    and the rate holds."""
    take_back_abandoned()
    other = aliased(AlertRecipient)
    busy = (
        select(other.id)
        .where(
            other.alert_id == Alert.id,
            or_(other.sent_at >= stale, other.lease_until > now),
        )
        .exists()
    )
    rows = db.session.scalars(
        select(AlertRecipient.alert_id)
        .join(Alert, Alert.id == AlertRecipient.alert_id)
        .where(
            Alert.state == AlertState.SENDING,
            AlertRecipient.state == RecipientState.QUEUED,
            or_(AlertRecipient.next_attempt_at.is_(None), AlertRecipient.next_attempt_at <= now),
            ~busy,
            or_(Alert.batch_until.is_(None), Alert.batch_until <= now),
        )
        .distinct()
        .limit(100)
    ).all()
    done = db.session.scalars(
        select(Alert.id).where(
            Alert.state == AlertState.SENDING,
            ~select(AlertRecipient.id)
            .where(AlertRecipient.alert_id == Alert.id, AlertRecipient.state.in_(UNFINISHED))
            .exists(),
        )
    ).all()
    for aid in done:
        alert = db.session.get(Alert, aid)
        if alert is not None:
            alert.state, alert.finished_at = AlertState.DONE, now
    return [(BATCH_TASK, (aid,)) for aid in rows]
