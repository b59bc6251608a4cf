"""Routing at ingest: rules (channel, keyword, phone-number prefix → team) choose the team of a
new conversation, and teams with automatic assignment give it to a member in turn (round
robin among members who are signed in and available, each holding at most the team's cap of
open conversations). Called once per ingest batch (inbox/services/ingest_batch.py)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update

from inbox.extensions import db
from inbox.models import (
    ChannelAccount,
    ChannelKind,
    Conversation,
    ConversationStatus,
    IdentityKind,
    Membership,
    RoutingRule,
    StaffSession,
    Team,
    TeamMember,
    User,
)
from inbox.models.base import utcnow
from inbox.services import audit

OPEN_STATES = (ConversationStatus.OPEN, ConversationStatus.PENDING, ConversationStatus.SNOOZED)
MAX_KEYWORD_CHARS = 100


def rules(tenant_id: int) -> list[RoutingRule]:
    return list(
        db.session.scalars(
            select(RoutingRule)
            .where(RoutingRule.tenant_id == tenant_id)
            .order_by(RoutingRule.position, RoutingRule.id)
        )
    )


def matches(rule: RoutingRule, kind: str, body: str, identity_kind: str, identity: str) -> bool:
    if rule.channel_kind and rule.channel_kind != kind:
        return False
    if rule.keyword and rule.keyword.casefold() not in (body or "").casefold():
        return False
    if rule.phone_prefix:
        if identity_kind != IdentityKind.PHONE.value:
            return False
        if not (identity or "").lstrip("+").startswith(rule.phone_prefix.lstrip("+")):
            return False
    return True


def route_new(convs: dict[int, Any]) -> None:
    """For each conversation the batch opened (`_Conv.new`): the first matching rule's team
    (else the channel account's), then automatic assignment within that team."""
    new = [c for c in convs.values() if c.new and c.items]
    if not new:
        return
    tenant_ids = {c.tenant_id for c in new}
    all_rules = db.session.scalars(
        select(RoutingRule)
        .where(RoutingRule.tenant_id.in_(tenant_ids))
        .order_by(RoutingRule.position, RoutingRule.id)
    ).all()
    by_tenant: dict[int, list[RoutingRule]] = {}
    for r in all_rules:
        by_tenant.setdefault(r.tenant_id, []).append(r)
    kinds: dict[int, Any] = {}
    if all_rules:
        kinds = dict(
            db.session.execute(
                select(ChannelAccount.id, ChannelAccount.kind).where(
                    ChannelAccount.id.in_({c.items[0].account_id for c in new})
                )
            ).all()
        )
    for conv in new if all_rules else []:
        first = conv.items[0]
        kind = kinds.get(first.account_id)
        inbound = first.inbound
        for rule in by_tenant.get(conv.tenant_id, []):
            if matches(
                rule,
                kind.value if isinstance(kind, ChannelKind) else str(kind),
                inbound.body or "",
                str(getattr(inbound.identity_kind, "value", inbound.identity_kind)),
                inbound.identity_value or "",
            ):
                if rule.team_id != conv.team_id:
                    conv.team_id = rule.team_id
                    db.session.execute(
                        update(Conversation)
                        .where(Conversation.id == conv.id)
                        .values(team_id=rule.team_id)
                    )
                break
    # Automatic assignment only where a team has it on (one query for the batch).
    team_ids = {c.team_id for c in new if c.team_id is not None}
    auto = (
        set(db.session.scalars(select(Team.id).where(Team.id.in_(team_ids), Team.auto_assign)))
        if team_ids
        else set()
    )
    for conv in new:
        if conv.team_id in auto:
            user_id = assign_in_team(conv.team_id, conv.tenant_id)
            if user_id is not None:
                conv.assignee_id = user_id
                db.session.execute(
                    update(Conversation)
                    .where(Conversation.id == conv.id)
                    .values(assignee_id=user_id)
                )


@dataclass
class MemberLoad:
    user: User
    open_count: int
    signed_in: bool
    available: bool


def team_load(team: Team) -> list[MemberLoad]:
    """Each member of the team: open conversations assigned, signed in, available."""
    now = utcnow()
    members = db.session.scalars(
        select(User)
        .join(TeamMember, TeamMember.user_id == User.id)
        .join(Membership, Membership.user_id == User.id)
        .where(TeamMember.team_id == team.id, Membership.tenant_id == team.tenant_id)
        .order_by(User.id)
    ).all()
    if not members:
        return []
    ids = [m.id for m in members]
    counts = dict(
        db.session.execute(
            select(Conversation.assignee_id, func.count())
            .where(
                Conversation.tenant_id == team.tenant_id,
                Conversation.assignee_id.in_(ids),
                Conversation.status.in_(OPEN_STATES),
                Conversation.merged_into_id.is_(None),
            )
            .group_by(Conversation.assignee_id)
        ).all()
    )
    signed_in = set(
        db.session.scalars(
            select(StaffSession.user_id).where(
                StaffSession.user_id.in_(ids),
                StaffSession.ended_at.is_(None),
                StaffSession.expires_at > now,
            )
        )
    )
    return [
        MemberLoad(m, int(counts.get(m.id, 0)), m.id in signed_in, m.is_enabled and m.is_available)
        for m in members
    ]


def assign_in_team(team_id: int, tenant_id: int) -> int | None:
    """The next member in turn (after the last one given a conversation) who is signed in,
    available and under the cap; None when nobody is (the conversation waits in the queue)."""
    team = db.session.get(Team, team_id, with_for_update=_pg())
    if team is None or team.tenant_id != tenant_id or not team.auto_assign:
        return None
    eligible = [
        m.user.id
        for m in team_load(team)
        if m.signed_in and m.available and m.open_count < team.max_open_per_member
    ]
    if not eligible:
        return None
    last = team.last_assigned_user_id or 0
    chosen = next((uid for uid in eligible if uid > last), eligible[0])
    team.last_assigned_user_id = chosen
    db.session.flush()
    return chosen


def _pg() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


# -- managing rules (the routing page) ----------------------------------------------------------


class RoutingError(ValueError):
    pass


def add_rule(tenant_id: int, actor: User, form: Any) -> RoutingRule:
    kind = (form.get("channel_kind") or "").strip()
    keyword = " ".join((form.get("keyword") or "").split())
    prefix = (form.get("phone_prefix") or "").replace(" ", "")
    team_raw = (form.get("team_id") or "").strip()
    if kind and kind not in {k.value for k in ChannelKind}:
        raise RoutingError("channel_kind")
    if len(keyword) > MAX_KEYWORD_CHARS or (keyword and not keyword.isprintable()):
        raise RoutingError("keyword")
    if prefix and (len(prefix) > 16 or not prefix.lstrip("+").isdigit()):
        raise RoutingError("phone_prefix")
    team = (
        db.session.get(Team, int(team_raw)) if team_raw.isdigit() and len(team_raw) < 18 else None
    )
    if team is None or team.tenant_id != tenant_id:
        raise RoutingError("team")
    if not (kind or keyword or prefix):
        raise RoutingError("empty")
    position = (
        db.session.scalar(
            select(func.max(RoutingRule.position)).where(RoutingRule.tenant_id == tenant_id)
        )
        or 0
    ) + 1
    rule = RoutingRule(
        tenant_id=tenant_id,
        position=position,
        channel_kind=kind or None,
        keyword=keyword or None,
        phone_prefix=prefix or None,
        team_id=team.id,
    )
    db.session.add(rule)
    db.session.flush()
    audit.record(
        "routing.rule_add",
        rule,
        tenant_id=tenant_id,
        actor=actor,
        channel_kind=kind or None,
        keyword=keyword or None,
        phone_prefix=prefix or None,
        team_id=team.id,
    )
    return rule


def delete_rule(rule: RoutingRule, actor: User) -> None:
    audit.record("routing.rule_delete", rule, tenant_id=rule.tenant_id, actor=actor)
    db.session.delete(rule)


def set_assignment(team: Team, actor: User, auto: bool, cap_raw: str) -> None:
    cap = cap_raw.strip()
    if not cap.isdigit() or not 1 <= int(cap) <= 500:
        raise RoutingError("cap")
    team.auto_assign, team.max_open_per_member = auto, int(cap)
    audit.record(
        "routing.assignment", team, tenant_id=team.tenant_id, actor=actor, auto=auto, cap=int(cap)
    )


def set_available(user: User, tenant_id: int, actor: User, available: bool) -> None:
    user.is_available = available
    audit.record(
        "routing.available" if available else "routing.away",
        user,
        tenant_id=tenant_id,
        actor=actor,
    )


def teams(tenant_id: int) -> list[Team]:
    return list(
        db.session.scalars(select(Team).where(Team.tenant_id == tenant_id).order_by(Team.name))
    )


def rules_with_teams(tenant_id: int) -> Iterable[tuple[RoutingRule, Team]]:
    return db.session.execute(
        select(RoutingRule, Team)
        .join(Team, Team.id == RoutingRule.team_id)
        .where(RoutingRule.tenant_id == tenant_id)
        .order_by(RoutingRule.position, RoutingRule.id)
    ).all()
