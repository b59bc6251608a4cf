"""Downloading MMS media into Attachment rows, within size, type and address limits.

Twilio's media URLs need HTTP basic auth with the account SID and auth token (when "enforce
HTTP auth on media URLs" is on, the default for new accounts) and redirect to a storage host;
requests drops the credentials on that cross-host redirect.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import select

from channels import media as provider_media
from channels.twilio_sms import services
from inbox.db import enqueue
from inbox.extensions import db
from inbox.models import Attachment, ChannelAccount, Direction, Message
from inbox.models.base import utcnow

log = logging.getLogger(__name__)
# A pending download untouched this long lost its task; the SMS poll re-queues it.
STALLED_AFTER = timedelta(minutes=15)
RESUME_WINDOW = timedelta(days=2)

# Types we keep from an MMS (what the bytes are, sniffed by channels/media.py), and the file
# extension each gets.
ALLOWED: dict[str, str] = {
    kind: ext
    for kind, ext in provider_media.KNOWN.items()
    if kind.startswith("image/") or kind == "application/pdf"
}


class Rejected(Exception):
    """The item breaks a limit; the message keeps a note of why."""


class Transient(Exception):
    """Twilio or the network failed; try again later."""


def fetch_pending(message_id: int, give_up: bool = False) -> tuple[int, bool]:
    """Download what is still pending for a message. Returns (stored, retry needed)."""
    # Locked, so a resumed task and a retrying one never store the same item twice.
    message = db.session.scalar(select(Message).where(Message.id == message_id).with_for_update())
    if message is None:
        return 0, False
    account = db.session.get(ChannelAccount, message.channel_account_id)
    assert account is not None
    pending = list((message.meta or {}).get("pending_media", []))
    stored, left, rejected = 0, [], list((message.meta or {}).get("media_rejected", []))
    done = {a.provider_url for a in message.attachments}
    for item in pending:
        if item["url"] in done:
            continue
        try:
            data, ctype = download(account, item["url"], item.get("content_type", ""))
        except Rejected as exc:
            rejected.append({"content_type": item.get("content_type", ""), "reason": str(exc)})
            continue
        except Transient as exc:
            log.info("MMS media for message %s not fetched yet: %s", message_id, exc)
            if give_up:
                rejected.append({"content_type": item.get("content_type", ""), "reason": "failed"})
            else:
                left.append(item)
            continue
        _store(message, item["url"], data, ctype, index=len(done) + stored)
        stored += 1
    meta = {k: v for k, v in (message.meta or {}).items() if k != "pending_media"}
    if left:
        meta["pending_media"] = left
        meta["media_attempted_at"] = utcnow().isoformat()
    if rejected:
        meta["media_rejected"] = rejected
    message.meta = meta
    db.session.commit()
    return stored, bool(left)


def download(account: ChannelAccount, url: str, declared: str) -> tuple[bytes, str]:
    """The file's bytes and type (sniffed from the bytes), through channels/media.py: public
    addresses only, within the size and time limits."""
    ctype = (declared or "").split(";")[0].strip().lower()
    if ctype and ctype not in ALLOWED:
        raise Rejected("type")  # no need to fetch what we will not keep
    try:
        auth = (services.account_sid(account), services.auth_token(account))
    except services.NotConfigured as exc:
        raise Transient(str(exc)) from exc
    if not _is_api_host(account, url):
        auth = None  # our credentials go to Twilio's API host only
    try:
        data, kind = provider_media.fetch(url, auth=auth)
    except provider_media.Refused as exc:
        raise Rejected(str(exc)) from exc
    except provider_media.Unavailable as exc:
        raise Transient(str(exc)) from exc
    if kind not in ALLOWED:
        raise Rejected("type")
    return data, kind


def _is_api_host(account: ChannelAccount, url: str) -> bool:
    api = (account.config or {}).get("api_base_url") or "https://api.twilio.com"
    ours, theirs = urlsplit(str(api)), urlsplit(url)
    return (ours.scheme, ours.netloc) == (theirs.scheme, theirs.netloc)


def resume_stalled(account: ChannelAccount) -> int:
    """Re-queue downloads whose task was lost (broker down at commit, worker killed)."""
    now = utcnow()
    rows = db.session.execute(
        select(Message.id, Message.meta, Message.created_at).where(
            Message.channel_account_id == account.id,
            Message.direction == Direction.INBOUND,
            Message.created_at > now - RESUME_WINDOW,
        )
    ).all()
    count = 0
    for mid, meta, created in rows:
        if not (meta or {}).get("pending_media"):
            continue
        last = meta.get("media_attempted_at")
        last_at = datetime.fromisoformat(last) if last else created
        if last_at < now - STALLED_AFTER:
            enqueue(services.MEDIA_TASK, mid)
            count += 1
    return count


def _store(message: Message, url: str, data: bytes, ctype: str, index: int) -> None:
    db.session.add(
        Attachment(
            tenant_id=message.tenant_id,
            message_id=message.id,
            provider_url=url,
            filename=f"mms-{message.id}-{index + 1}.{ALLOWED[ctype]}",
            content_type=ctype,
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            data=data,
        )
    )
    db.session.flush()
