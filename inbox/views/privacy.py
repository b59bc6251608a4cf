"""Privacy on the conversation page: revealing a masked identity number (audited), and a
contact's rights of access and erasure (export as JSON or PDF, erase), each audited.

Who may: records officers and admins answer access and erasure requests (they see the whole
municipality and know what the archive must keep); identity numbers can be revealed by them,
and by caseworkers where the municipality allows it (admin page "Privacy").
"""

from __future__ import annotations

import json

from flask import Blueprint, Response, abort, make_response, render_template, request
from flask_login import login_required

from inbox.extensions import db
from inbox.models import Contact, Message, Role, Tenant, User
from inbox.services import audit, idnumbers, subject_access
from inbox.services.access import conversation_for_user, current, tenant_object

bp = Blueprint("privacy", __name__)

# Roles that answer access and erasure requests (admin is implied by require_role).
REQUEST_ROLES = (Role.RECORDS_OFFICER,)


@bp.app_template_filter("mask_ids")
def mask_ids(text: str | None) -> str:
    return idnumbers.mask(text or "")


@bp.app_template_filter("id_kinds")
def id_kinds(text: str | None) -> list[str]:
    return [k.value for k in idnumbers.kinds(text or "")]


def may_reveal(user: User, tenant_id: int) -> bool:
    role = user.role_in(tenant_id)
    if role in (Role.ADMIN, Role.RECORDS_OFFICER):
        return True
    tenant = db.session.get(Tenant, tenant_id)
    return role is Role.CASEWORKER and tenant is not None and bool(tenant.caseworkers_may_reveal)


def may_answer_requests(user: User, tenant_id: int) -> bool:
    return user.role_in(tenant_id) in (Role.ADMIN, *REQUEST_ROLES)


def _no_store(resp: Response) -> Response:
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.post("/c/<int:conversation_id>/messages/<int:message_id>/reveal")
@login_required
def reveal(conversation_id: int, message_id: int):  # type: ignore[no-untyped-def]
    conv = conversation_for_user(conversation_id)
    msg = db.session.get(Message, message_id)
    if msg is None or msg.is_note:
        abort(404)
    conversation_for_user(msg.conversation_id)  # the user may see the message itself
    user = current()
    if not may_reveal(user, conv.tenant_id):
        abort(403)
    kinds = [k.value for k in idnumbers.kinds(msg.body)]
    audit.record("message.reveal_id_number", msg, tenant_id=msg.tenant_id, actor=user, kinds=kinds)
    db.session.commit()
    page = render_template("privacy/revealed.html", conv=conv, message=msg, kinds=kinds)
    return _no_store(make_response(page))


def _contact(contact_id: int) -> tuple[Contact, User]:
    contact = tenant_object(Contact, contact_id, *REQUEST_ROLES)
    return contact, current()


@bp.get("/privacy/contacts/<int:contact_id>/export.<fmt>")
@login_required
def export(contact_id: int, fmt: str):  # type: ignore[no-untyped-def]
    if fmt not in ("json", "pdf"):
        abort(404)
    contact, user = _contact(contact_id)
    data = subject_access.export(contact)
    audit.record(
        "contact.export",
        contact,
        tenant_id=contact.tenant_id,
        actor=user,
        format=fmt,
        conversations=len(data["conversations"]),
    )
    db.session.commit()
    name = f"innsyn-kontakt-{contact.id}.{fmt}"
    if fmt == "json":
        body = json.dumps(data, ensure_ascii=False, indent=2)
        resp = Response(body, mimetype="application/json")
    else:
        resp = Response(subject_access.render_pdf(data, contact), mimetype="application/pdf")
    resp.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return _no_store(resp)


@bp.route("/privacy/contacts/<int:contact_id>/erase", methods=["GET", "POST"])
@login_required
def erase(contact_id: int):  # type: ignore[no-untyped-def]
    contact, user = _contact(contact_id)
    if request.method == "GET":
        data = subject_access.export(contact)
        return _no_store(
            make_response(render_template("privacy/erase.html", contact=contact, data=data))
        )
    if request.form.get("confirm") != "yes":
        abort(400)
    tenant_id, shown = contact.tenant_id, contact.display_name
    result = subject_access.erase(contact, user)
    db.session.commit()
    page = render_template("privacy/erased.html", result=result, shown=shown, tenant_id=tenant_id)
    return _no_store(make_response(page))
