"""Where a reply can go: this conversation's channel, the contact's other conversations (another
channel the citizen has used), or SMS to the number the citizen left in the web chat's offline
form. The citizen's stated preference is shown and chosen first; a route the channel cannot take
now (an ended chat, a hearing comment from a webhook source, an SMS opt-out) is listed with why.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import select

from channels.registry import UnknownChannel, get_connector
from inbox.extensions import db
from inbox.models import ChannelAccount, ChannelKind, Conversation, ConversationStatus, User
from inbox.normalise import normalise_phone
from inbox.services.access import visible_conversations_clause
from inbox.services.rows import format_phone

# A public comment thread is never offered as another way to answer: a private question must
# not be answered in public.
PUBLIC = {ChannelKind.FACEBOOK_COMMENTS, ChannelKind.INSTAGRAM_COMMENTS, ChannelKind.WEB_COMMENTS}


@dataclass
class Route:
    key: str  # "conv:<id>" or "sms:<account id>:<E.164 number>"
    label: str
    kind: str  # ChannelKind value
    blocked: str | None = None  # why the channel cannot take a reply now
    preferred: bool = False  # what the citizen asked for
    conversation_id: int | None = None
    account_id: int | None = None
    phone: str | None = None


@dataclass
class Routes:
    routes: list[Route]
    chosen: str | None  # the key selected by default; None when nothing can take a reply
    preference: str | None  # the citizen's stated wish, as a sentence


def _blocked(conv: Conversation) -> str | None:
    try:
        return get_connector(conv.channel_account.kind).cannot_reply_reason(conv)
    except UnknownChannel:
        return _("This channel cannot send replies.")


def preference_of(conv: Conversation) -> dict[str, str] | None:
    pref = (conv.meta or {}).get("reply_preference")
    if isinstance(pref, dict) and pref.get("method") in ("chat", "sms", "email"):
        return pref
    return None


def routes_for(conv: Conversation, user: User) -> Routes:
    routes = [
        Route(
            key=f"conv:{conv.id}",
            label=conv.channel_account.name,
            kind=conv.channel_account.kind.value,
            blocked=_blocked(conv),
            conversation_id=conv.id,
        )
    ]
    others = db.session.scalars(
        select(Conversation)
        .where(
            Conversation.tenant_id == conv.tenant_id,
            Conversation.contact_id == conv.contact_id,
            Conversation.id != conv.id,
            Conversation.merged_into_id.is_(None),
            Conversation.channel_account_id != conv.channel_account_id,
            visible_conversations_clause(user),
        )
        .order_by(Conversation.last_activity_at.desc())
        .limit(20)
    ).all()
    seen_accounts = {conv.channel_account_id}
    for other in others:
        if other.channel_account_id in seen_accounts or other.channel_account.kind in PUBLIC:
            continue  # the latest private conversation per channel account
        seen_accounts.add(other.channel_account_id)
        routes.append(
            Route(
                key=f"conv:{other.id}",
                label=other.channel_account.name,
                kind=other.channel_account.kind.value,
                blocked=_blocked(other),
                conversation_id=other.id,
            )
        )
    pref = preference_of(conv)
    sentence = None
    if pref is not None:
        method, value = pref["method"], pref.get("value", "")
        if method == "sms":
            sentence = _(
                "The citizen asked for the answer by SMS to %(number)s.", number=format_phone(value)
            )
            _prefer_sms(conv, routes, value)
        elif method == "email":
            sentence = _(
                "The citizen asked for the answer by e-mail to %(address)s.", address=value
            )
        else:
            sentence = _("The citizen asked for the answer in the chat.")
            routes[0].preferred = True
    open_routes = [r for r in routes if not r.blocked]
    chosen = next((r.key for r in open_routes if r.preferred), None)
    if chosen is None and open_routes:
        chosen = open_routes[0].key
    return Routes(routes, chosen, sentence)


def _prefer_sms(conv: Conversation, routes: list[Route], number: str) -> None:
    """Mark (or add) the SMS route to the number the citizen left."""
    phone = normalise_phone(number)
    if not phone:
        return
    from channels.twilio_sms.services import destination

    for r in routes:
        if r.kind == ChannelKind.SMS.value and r.conversation_id:
            other = db.session.get(Conversation, r.conversation_id)
            if other is not None and destination(other) == phone:
                r.preferred = True
                return
    account = db.session.scalar(
        select(ChannelAccount)
        .where(
            ChannelAccount.tenant_id == conv.tenant_id,
            ChannelAccount.kind == ChannelKind.SMS,
        )
        .order_by(ChannelAccount.id)
        .limit(1)
    )
    if account is None:
        return
    routes.append(
        Route(
            key=f"sms:{account.id}:{phone}",
            label=_("SMS to %(number)s", number=format_phone(phone)),
            kind=ChannelKind.SMS.value,
            preferred=True,
            account_id=account.id,
            phone=phone,
        )
    )


def target_for(conv: Conversation, user: User, key: str) -> Conversation:
    """The conversation a reply by route `key` goes into; a new SMS conversation to the
    citizen's number when there is none yet. Raises LookupError for a route not offered."""
    found = routes_for(conv, user)
    route = next((r for r in found.routes if r.key == key), None)
    if route is None:
        raise LookupError(key)
    if route.conversation_id is not None:
        target = db.session.get(Conversation, route.conversation_id)
        assert target is not None
        return target
    new = Conversation(
        tenant_id=conv.tenant_id,
        contact_id=conv.contact_id,
        channel_account_id=route.account_id,
        status=ConversationStatus.OPEN,
        team_id=conv.team_id,
        assignee_id=conv.assignee_id or user.id,
        meta={"phone": route.phone, "started_from": conv.id},
    )
    db.session.add(new)
    db.session.flush()
    return new
