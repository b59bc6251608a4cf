"""One conversation: read, reply, note, flag for the archive."""

from __future__ import annotations

from urllib.parse import quote

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import login_required

from channels.registry import reply_limits
from inbox.extensions import db
from inbox.formatting import short_datetime_formatter
from inbox.models import Attachment, DeliveryStatus, Message, Role
from inbox.services import canned, reply_routes, rows, tags, thread
from inbox.services import conversations as svc
from inbox.services.access import conversation_for_user, current, require_role
from inbox.views import actions, privacy
from inbox.views import queue as queue_views

bp = Blueprint("conversation", __name__, url_prefix="/c")

REPLY_ERRORS = {
    "empty": lambda: _("Write a reply first."),
    "too_long": lambda: _(
        "The reply is too long (at most %(n)s characters).",
        n=current_app.config["MAX_MESSAGE_CHARS"],
    ),
    "invalid": lambda: _("The reply contains characters that cannot be sent."),
}


@bp.get("/<int:conversation_id>")
@login_required
def show(conversation_id: int):  # type: ignore[no-untyped-def]
    conv = conversation_for_user(conversation_id)
    if conv.merged_into_id is not None:
        flash(_("This conversation was merged into another one."), "success")
        return redirect(url_for(".show", conversation_id=conv.merged_into_id), 303)
    user = current()
    canned_replies = canned.for_tenant(conv.tenant_id)
    filled = {c.id: canned.fill(c, conv, user) for c in canned_replies}
    draft = ""
    chosen = request.args.get("canned", "")
    if chosen:
        if not chosen.isdigit() or int(chosen) not in filled:
            abort(404)
        draft = filled[int(chosen)]
    staff, teams = thread.staff_and_teams(conv.tenant_id)
    card = thread.contact_card(conv, user)
    # ?pane=1: only the conversation, for the workspace to swap in (static/js/workspace.js).
    pane_only = request.args.get("pane") == "1"
    listing = (
        {"ws_query": queue_views.remembered_query()}
        if pane_only
        else queue_views.list_context(user, conv.id)
    )
    listed = listing.get("rows", {}).get(conv.id)  # its row in the list beside it, if any
    conv_tags = listed.tags if listed else tags.names_for([conv.id]).get(conv.id, [])
    tenant_tags = tags.tenant_names(conv.tenant_id)
    routes = reply_routes.routes_for(conv, user)
    page = render_template(
        "inbox/_conversation_pane.html" if pane_only else "inbox/conversation.html",
        **listing,
        undo=actions.pending_undo(conv.id),
        undo_seconds=int(current_app.config.get("UNDO_SECONDS", 10)),
        conv_tags=conv_tags,
        suggested_tags=tags.suggest(conv, current=conv_tags, tenant_tags=tenant_tags),
        tag_suggestions=tenant_tags[:200],
        conv=conv,
        who=rows.readable_name(conv),
        routes=routes,
        thread=thread.thread(conv, user),
        labels=_labels(),
        when=short_datetime_formatter(),
        card=card,
        merge_candidates=card.conversations,
        # The first route is this conversation's own: its connector has answered already.
        limits=reply_limits(conv, blocked=routes.routes[0].blocked),
        canned_replies=canned_replies,
        canned_filled=filled,
        draft=draft,
        staff=staff,
        teams=teams,
        user=user,
        may_reveal=privacy.may_reveal(user, conv.tenant_id),
        may_answer_requests=privacy.may_answer_requests(user, conv.tenant_id),
    )
    svc.mark_read(conv)
    db.session.commit()
    if pane_only:
        resp = Response(page, mimetype="text/html")
        resp.headers["Cache-Control"] = "no-store"
        return resp
    return page


def _labels() -> dict[str, str]:
    """Per-message words, translated once per page rather than once per message."""
    labels = {s.value: _(s.value) for s in DeliveryStatus}
    labels.update(note=_("Internal note"), reply=_("Reply"), open=_("open conversation"))
    labels.update(
        id_warning=_(
            "This message contains an identity number or a bank account number. It is shown masked."
        ),
        reveal=_("Reveal"),
    )
    labels.update(
        staff_only=_("only staff see this"),
        removed=_("removed"),
        why_queued=_("waiting to be sent"),
        why_sending=_("being sent"),
        why_sent=_("handed to the channel, delivery not yet confirmed"),
        why_delivered=_("delivered to the citizen"),
        why_read=_("read by the citizen"),
    )
    return labels


@bp.post("/<int:conversation_id>/reply")
@login_required
def reply(conversation_id: int):  # type: ignore[no-untyped-def]
    conv = conversation_for_user(conversation_id)
    user = require_role(conv.tenant_id, Role.CASEWORKER, Role.RECORDS_OFFICER)
    note = request.form.get("kind") == "note"
    try:
        if note:
            svc.add_note(conv, user, request.form.get("body", ""))
        else:
            body = request.form.get("body", "")
            target = conv
            route = request.form.get("route", "")
            if route and route != f"conv:{conv.id}":
                try:
                    target = reply_routes.target_for(conv, user, route)
                except LookupError:
                    abort(400, _("That reply channel is not offered for this conversation."))
            limit = reply_limits(target)["max_chars"]
            if len(body.replace("\r\n", "\n").strip()) > limit:
                raise svc.InvalidReply("too_long")
            svc.reply(target, user, body)
    except svc.InvalidReply as exc:
        db.session.rollback()
        reason = str(exc)
        if reason == "too_long":
            limit = (
                current_app.config["MAX_MESSAGE_CHARS"] if note else reply_limits(conv)["max_chars"]
            )
            flash(_("The reply is too long (at most %(n)s characters).", n=limit), "error")
        else:
            flash(REPLY_ERRORS[reason]() if reason in REPLY_ERRORS else reason, "error")
        return redirect(url_for(".show", conversation_id=conv.id), 303)
    db.session.commit()
    flash(_("Note saved.") if note else _("Reply queued for sending."), "success")
    return redirect(url_for(".show", conversation_id=conv.id), 303)


@bp.get("/attachments/<int:attachment_id>")
@login_required
def attachment(attachment_id: int):  # type: ignore[no-untyped-def]
    """A stored attachment, always as a download (never rendered in our origin)."""
    att = db.session.get(Attachment, attachment_id)
    if att is None:
        abort(404)
    msg = db.session.get(Message, att.message_id)
    conversation_for_user(msg.conversation_id if msg else 0)
    if att.data is None:
        abort(404)
    resp = Response(att.data, mimetype="application/octet-stream")
    resp.headers["Content-Disposition"] = content_disposition(att.filename)
    resp.headers["Cache-Control"] = "private, no-store"
    return resp


def content_disposition(filename: str) -> str:
    safe = "".join(c for c in filename if c.isalnum() or c in "._- ")[:100] or "attachment"
    return f"attachment; filename=\"{safe}\"; filename*=UTF-8''{quote(filename[:200])}"
