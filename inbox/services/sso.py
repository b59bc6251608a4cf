"""Staff single sign-on per municipality (docs/sso.md): its settings, and what a verified
ID token does to the staff account (created at the first sign-in with the role its groups
map to, role and teams brought up to date at every later one)."""

from __future__ import annotations

import re
import secrets
from typing import Any

from sqlalchemy import delete, func, select

from inbox.extensions import db
from inbox.models import Membership, Role, SsoConfig, SsoLink, Team, TeamMember, Tenant, User
from inbox.models.base import utcnow
from inbox.services import audit, oidc, secret_store

# Accounts of single sign-on have no password: this marker in the hash column is no argon2
# hash, so every password check fails, and the session token (inbox/security.py) still
# comes from a per-account random value.
PASSWORD_MARKER = "sso:"  # noqa: S105 (a marker, not a password)
ROLE_RANK = {Role.CASEWORKER: 1, Role.RECORDS_OFFICER: 2, Role.ADMIN: 3}
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,253}$")
MAX_GROUPS = 500


class SsoRefused(Exception):
    """The provider vouched for the person, but they may not sign in here; str(exc) is a
    short code (see the views' REASONS)."""


class ConfigError(ValueError):
    """str(exc) names the field that is wrong."""


def is_sso_account(user: User) -> bool:
    return user.password_hash.startswith(PASSWORD_MARKER)


def config_for(tenant_id: int) -> SsoConfig | None:
    return db.session.scalar(select(SsoConfig).where(SsoConfig.tenant_id == tenant_id))


def enabled_tenants() -> list[Tenant]:
    """Municipalities whose staff can sign in with single sign-on (the sign-in page)."""
    return list(
        db.session.scalars(
            select(Tenant)
            .join(SsoConfig, SsoConfig.tenant_id == Tenant.id)
            .where(SsoConfig.enabled.is_(True))
            .order_by(Tenant.name)
        )
    )


def client_secret(config: SsoConfig) -> str:
    return secret_store.resolve_secret(config.client_secret_enc, config.client_secret_env)


def _lines(raw: str) -> list[str]:
    return [line.strip() for line in raw.replace("\r", "").split("\n") if line.strip()]


def parse_mapping(raw: str, *, roles: bool) -> dict[str, Any]:
    """Lines "group = value": a role (admin, records_officer, caseworker) or team names
    separated by commas. ConfigError("group_roles"/"group_teams") when a line is wrong."""
    field = "group_roles" if roles else "group_teams"
    out: dict[str, Any] = {}
    for line in _lines(raw):
        group, sep, value = line.partition("=")
        group, value = group.strip(), value.strip()
        if not sep or not group or not value or len(group) > 255:
            raise ConfigError(field)
        if roles:
            if value not in {r.value for r in Role}:
                raise ConfigError(field)
            out[group] = value
        else:
            teams = [t.strip() for t in value.split(",") if t.strip()]
            if not teams or any(len(t) > 120 for t in teams):
                raise ConfigError(field)
            out[group] = teams
    return out


def format_mapping(mapping: dict[str, Any]) -> str:
    return "\n".join(
        f"{g} = {', '.join(v) if isinstance(v, list) else v}" for g, v in mapping.items()
    )


def save_config(tenant: Tenant, form: dict[str, str], actor: User) -> SsoConfig:
    """Validate and store the settings; ConfigError names the first wrong field. A secret
    left empty keeps the one stored. The caller commits."""
    issuer = form.get("issuer", "").strip().rstrip("/")
    if not issuer or len(issuer) > 500:
        raise ConfigError("issuer")
    try:
        oidc.check_url(issuer)
    except oidc.OidcError as exc:
        raise ConfigError("issuer_" + exc.code) from exc
    client_id = form.get("client_id", "").strip()
    if not client_id or len(client_id) > 255:
        raise ConfigError("client_id")
    domains = [
        d.lower().lstrip("@") for d in _lines(form.get("allowed_domains", "").replace(",", "\n"))
    ]
    if not domains or not all(_DOMAIN.match(d) for d in domains):
        raise ConfigError("allowed_domains")
    groups_claim = form.get("groups_claim", "").strip() or "groups"
    if len(groups_claim) > 64:
        raise ConfigError("groups_claim")
    group_roles = parse_mapping(form.get("group_roles", ""), roles=True)
    if not group_roles:
        raise ConfigError("group_roles")
    group_teams = parse_mapping(form.get("group_teams", ""), roles=False)
    secret_env = form.get("client_secret_env", "").strip()
    if secret_env and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,127}", secret_env):
        raise ConfigError("client_secret_env")
    secret = form.get("client_secret", "")
    if len(secret) > 1000:
        raise ConfigError("client_secret")
    config = config_for(tenant.id)
    if config is None:
        config = SsoConfig(tenant_id=tenant.id)
        db.session.add(config)
    config.issuer, config.client_id = issuer, client_id
    config.allowed_domains, config.groups_claim = domains, groups_claim
    config.group_roles, config.group_teams = group_roles, group_teams
    if secret_env:
        config.client_secret_env, config.client_secret_enc = secret_env, None
    elif secret.strip():
        config.client_secret_enc = secret_store.encrypt(secret.strip())
        config.client_secret_env = None
    if not (config.client_secret_env or config.client_secret_enc):
        raise ConfigError("client_secret")
    config.enabled = form.get("enabled") in ("1", "on", "true")
    db.session.flush()
    audit.record("sso.configure", config, tenant_id=tenant.id, actor=actor, enabled=config.enabled)
    return config


def _email(claims: dict[str, Any]) -> str:
    raw = claims.get("email") or claims.get("preferred_username") or claims.get("upn")
    if not isinstance(raw, str) or not _EMAIL.match(raw.strip()) or len(raw) > 254:
        raise SsoRefused("no_email")
    if claims.get("email") and claims.get("email_verified") is False:
        raise SsoRefused("no_email")
    return raw.strip().lower()


def _groups(config: SsoConfig, claims: dict[str, Any]) -> list[str]:
    raw = claims.get(config.groups_claim) or []
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list):
        return []
    return [g for g in raw[:MAX_GROUPS] if isinstance(g, str)]


def mapped_role(config: SsoConfig, groups: list[str]) -> Role | None:
    roles = [Role(config.group_roles[g]) for g in groups if g in config.group_roles]
    return max(roles, key=ROLE_RANK.__getitem__) if roles else None


def _sync_teams(config: SsoConfig, user: User, groups: list[str]) -> list[str]:
    """Teams named in the mapping follow the groups; other teams are left as they are."""
    wanted = {t for g in groups for t in config.group_teams.get(g, [])}
    managed = {t for teams in config.group_teams.values() for t in teams}
    names = []
    for name in sorted(managed):
        team = db.session.scalar(
            select(Team).where(Team.tenant_id == config.tenant_id, Team.name == name)
        )
        if team is None:
            if name not in wanted:
                continue
            team = Team(tenant_id=config.tenant_id, name=name)
            db.session.add(team)
            db.session.flush()
        member = db.session.get(TeamMember, (team.id, user.id))
        if name in wanted:
            names.append(name)
            if member is None:
                db.session.add(TeamMember(team_id=team.id, user_id=user.id))
        elif member is not None:
            db.session.delete(member)
    return names


def _refuse_and_revoke(link: SsoLink | None, code: str) -> None:
    """A linked account whose groups no longer map loses its place in the municipality."""
    if link is not None:
        db.session.execute(
            delete(Membership).where(
                Membership.user_id == link.user_id, Membership.tenant_id == link.tenant_id
            )
        )
        audit.record("sso.revoked", link, tenant_id=link.tenant_id, actor_label="system")
        db.session.commit()
    raise SsoRefused(code)


def sign_in(config: SsoConfig, claims: dict[str, Any]) -> User:
    """The staff account for these verified claims, created or brought up to date: only in
    this municipality. SsoRefused with the reason otherwise. The caller commits."""
    subject = str(claims["sub"])[:255]
    link = db.session.scalar(
        select(SsoLink).where(
            SsoLink.tenant_id == config.tenant_id,
            SsoLink.issuer == config.issuer,
            SsoLink.subject == subject,
        )
    )
    email = _email(claims)
    domain = email.rsplit("@", 1)[1]
    if domain not in config.allowed_domains:
        _refuse_and_revoke(link, "domain")
    groups = _groups(config, claims)
    role = mapped_role(config, groups)
    if role is None:
        _refuse_and_revoke(link, "no_group")
    assert role is not None
    name = claims.get("name") if isinstance(claims.get("name"), str) else None
    if link is not None:
        user = db.session.get(User, link.user_id)
        assert user is not None
    else:
        user = db.session.scalar(select(User).where(func.lower(User.email) == email))
        if user is None:
            user = User(
                email=email,
                name=(name or email)[:200],
                password_hash=PASSWORD_MARKER + secrets.token_urlsafe(32),
            )
            db.session.add(user)
            db.session.flush()
            audit.record("sso.account_created", user, tenant_id=config.tenant_id, actor=user)
        elif not is_sso_account(user) and any(
            m.tenant_id != config.tenant_id for m in user.memberships
        ):
            # A password account of another municipality is not taken over by this one's
            # provider: its admins link it by hand.
            raise SsoRefused("account_exists")
        elif not is_sso_account(user):
            # A local account of this municipality moves to single sign-on: its password
            # stops working.
            user.password_hash = PASSWORD_MARKER + secrets.token_urlsafe(32)
            user.must_change_password = False
        link = SsoLink(
            user_id=user.id, tenant_id=config.tenant_id, issuer=config.issuer, subject=subject
        )
        db.session.add(link)
    if not user.is_enabled:
        raise SsoRefused("disabled")
    if name:
        user.name = name[:200]
    membership = db.session.get(Membership, (user.id, config.tenant_id))
    if membership is None:
        db.session.add(Membership(user_id=user.id, tenant_id=config.tenant_id, role=role))
    elif membership.role is not role:
        membership.role = role
    teams = _sync_teams(config, user, groups)
    now = utcnow()
    link.last_sign_in_at = now
    link.last_claims = {"groups": groups[:50], "email": email}
    user.last_seen_at = now
    db.session.flush()
    db.session.refresh(user)
    audit.record(
        "sso.sign_in", user, tenant_id=config.tenant_id, actor=user, role=role.value, teams=teams
    )
    return user
