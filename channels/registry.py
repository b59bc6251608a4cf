"""Which connector serves which channel kind. Connectors are imported on first use."""

from __future__ import annotations

from importlib import import_module
from typing import Any

from channels.interfaces import ChannelConnector
from inbox.models import ChannelKind

CONNECTORS: dict[ChannelKind, str] = {
    ChannelKind.WEBCHAT: "channels.webchat.connector:WebChatConnector",
    ChannelKind.SMS: "channels.twilio_sms.connector:TwilioSmsConnector",
    ChannelKind.MESSENGER: "channels.facebook.connector:MessengerConnector",
    ChannelKind.FACEBOOK_COMMENTS: "channels.facebook.connector:CommentsConnector",
    ChannelKind.INSTAGRAM: "channels.instagram.connector:InstagramConnector",
    ChannelKind.INSTAGRAM_COMMENTS: "channels.instagram.connector:InstagramCommentsConnector",
    # WordPress or generic signed webhook, by ChannelAccount.config["source"].
    ChannelKind.WEB_COMMENTS: "channels.wordpress.connector:WebCommentsConnector",
}

_instances: dict[ChannelKind, ChannelConnector] = {}


class UnknownChannel(LookupError):
    pass


def get_connector(kind: ChannelKind | str) -> ChannelConnector:
    kind = ChannelKind(kind)
    if kind not in _instances:
        path = CONNECTORS.get(kind)
        if path is None:
            raise UnknownChannel(f"no connector for channel kind {kind!s}")
        module, _, cls = path.partition(":")
        _instances[kind] = getattr(import_module(module), cls)()
    return _instances[kind]


NOT_ASKED: Any = object()


def reply_limits(conversation, blocked: str | None = NOT_ASKED) -> dict:  # type: ignore[no-untyped-def]
    """What the reply box shows about the channel's limits for this conversation.

    Connectors may implement `reply_limits(conversation) -> dict` (keys: max_chars,
    segment_chars for SMS-style segmenting, window_closes_at for reply windows, note);
    otherwise the installation-wide maximum applies. `blocked` is cannot_reply_reason(); a
    caller that has asked the connector already passes its answer (a connector may need
    queries or credentials to tell).
    """
    from flask import current_app

    limits: dict = {"max_chars": current_app.config["MAX_MESSAGE_CHARS"]}
    try:
        connector = get_connector(conversation.channel_account.kind)
    except UnknownChannel:
        limits["blocked"] = "no_connector"
        return limits
    own = getattr(connector, "reply_limits", None)
    if callable(own):
        limits.update(own(conversation) or {})
    limits["max_chars"] = min(limits["max_chars"], current_app.config["MAX_MESSAGE_CHARS"])
    limits["blocked"] = (
        connector.cannot_reply_reason(conversation) if blocked is NOT_ASKED else blocked
    )
    return limits
