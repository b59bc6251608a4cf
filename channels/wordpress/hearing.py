"""Public hearings (høring): comments from a source marked `is_hearing`.

Their conversations carry an archive suggestion the triage UI reads:
    Conversation.meta["archive_suggestion"] = {
        "reason": "hearing", "channel_account_id": <id>, "since": "<ISO 8601 UTC>",
        "message_ids": [<inbound message ids>],
    }
and an anonymous comment offers the caseworker a ready reply: `suggested_replies(conv)`.
"""

from __future__ import annotations

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select

from inbox.extensions import db
from inbox.models import Conversation, Direction, Message, Tenant
from inbox.models.base import utcnow


def suggest_archive(conv: Conversation, message: Message) -> None:
    current = dict((conv.meta or {}).get("archive_suggestion") or {})
    ids = list(current.get("message_ids") or [])
    if message.id not in ids:
        ids.append(message.id)
    conv.meta = {
        **(conv.meta or {}),
        "archive_suggestion": {
            "reason": "hearing",
            "channel_account_id": message.channel_account_id,
            "since": current.get("since") or utcnow().isoformat(),
            "message_ids": ids,
        },
    }


def has_anonymous_input(conv: Conversation) -> bool:
    metas = db.session.scalars(
        select(Message.meta).where(
            Message.conversation_id == conv.id, Message.direction == Direction.INBOUND
        )
    )
    return any((m or {}).get("anonymous") for m in metas)


def suggested_replies(conv: Conversation) -> list[str]:
    """Ready replies for the caseworker (editable before sending), in the source's language.

    A hearing conversation with an anonymous comment gets a text explaining how to submit the
    input formally, with the source's `config["hearing_form_url"]` when set.
    """
    account = conv.channel_account
    if not account.is_hearing or not has_anonymous_input(conv):
        return []
    config = account.config or {}
    tenant = db.session.get(Tenant, conv.tenant_id)
    locale = config.get("reply_locale") or (tenant.locale if tenant else None)
    if locale not in current_app.config["LANGUAGES"]:
        locale = current_app.config["DEFAULT_LOCALE"]
    url = str(config.get("hearing_form_url") or "").strip()
    with force_locale(locale):
        if url:
            return [
                _(
                    "Thank you for your input to the hearing. Anonymous comments cannot be "
                    "registered as formal hearing input. To have your input considered "
                    "formally, please submit it through the municipality's electronic form: "
                    "%(url)s",
                    url=url,
                )
            ]
        return [
            _(
                "Thank you for your input to the hearing. Anonymous comments cannot be "
                "registered as formal hearing input. To have your input considered formally, "
                "please send it to the municipality in writing, with your name and address, "
                "before the hearing deadline."
            )
        ]
