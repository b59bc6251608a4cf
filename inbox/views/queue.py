"""The queue of conversations."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import login_required
from sqlalchemy import select

from inbox.extensions import db
from inbox.models import Conversation, ConversationStatus
from inbox.services.access import current

bp = Blueprint("queue", __name__)


@bp.get("/")
@login_required
def index():  # type: ignore[no-untyped-def]
    user = current()
    conversations = db.session.scalars(
        select(Conversation)
        .where(
            Conversation.tenant_id.in_(user.tenant_ids()),
            Conversation.status != ConversationStatus.CLOSED,
            Conversation.merged_into_id.is_(None),
        )
        .order_by(Conversation.last_activity_at.desc(), Conversation.id.desc())
        .limit(50)
    ).all()
    return render_template("inbox/queue.html", conversations=conversations)
