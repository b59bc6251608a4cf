"""Downloading MMS media into Attachment rows, within size and type limits.

Twilio's media URLs need HTTP basic auth with the account SID and auth token (when "enforce
HTTP auth on media URLs" is on, the default for new accounts) and redirect to a storage host;
requests drops the credentials on that cross-host redirect.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import requests
from flask import current_app
from sqlalchemy import select

from channels.twilio_sms import services
from inbox.db import enqueue
from inbox.extensions import db
from inbox.models import Attachment, ChannelAccount, Direction, Message
from inbox.models.base import utcnow

log = logging.getLogger(__name__)
TIMEOUT_SECONDS = 20
# A pending download untouched this long lost its task; the SMS poll re-queues it.
STALLED_AFTER = timedelta(minutes=15)
RESUME_WINDOW = timedelta(days=2)

# Allowed types, their file extension and the bytes a real file of that type starts with.
ALLOWED: dict[str, tuple[str, tuple[bytes, ...]]] = {
    "image/jpeg": ("jpg", (b"\xff\xd8\xff",)),
    "image/png": ("png", (b"\x89PNG\r\n\x1a\n",)),
    "image/gif": ("gif", (b"GIF87a", b"GIF89a")),
    "image/webp": ("webp", (b"RIFF",)),
    "image/heic": ("heic", (b"",)),
    "application/pdf": ("pdf", (b"%PDF-",)),
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
    limit = current_app.config["MAX_ATTACHMENT_BYTES"]
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
        with requests.get(url, auth=auth, timeout=TIMEOUT_SECONDS, stream=True) as resp:
            if resp.status_code >= 500 or resp.status_code == 429:
                raise Transient(f"HTTP {resp.status_code}")
            if resp.status_code != 200:
                raise Rejected("missing")
            ctype = resp.headers.get("Content-Type", ctype).split(";")[0].strip().lower()
            if ctype not in ALLOWED:
                raise Rejected("type")
            if int(resp.headers.get("Content-Length") or 0) > limit:
                raise Rejected("size")
            data = bytearray()
            for chunk in resp.iter_content(64 * 1024):
                data += chunk
                if len(data) > limit:
                    raise Rejected("size")
    except requests.RequestException as exc:
        raise Transient(str(exc)) from exc
    if not bytes(data).startswith(ALLOWED[ctype][1]):
        raise Rejected("type")
    return bytes(data), ctype


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
            filename=f"mms-{message.id}-{index + 1}.{ALLOWED[ctype][0]}",
            content_type=ctype,
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            data=data,
        )
    )
    db.session.flush()
