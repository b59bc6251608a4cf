"""The demo municipality that the embedded mode starts with."""

from __future__ import annotations

import secrets
from pathlib import Path

from sqlalchemy import select

from archiving.adapters.embedded_models import RecordsCase
from inbox.extensions import db
from inbox.models import ChannelAccount, ChannelKind, Role, Team, TeamMember, Tenant
from inbox.models.base import utcnow
from inbox.services.users import create_user

DEMO_SLUG = "eksempel"
DEMO_USERS = (
    ("saksbehandler@eksempel.kommune.no", "Sara Saksbehandler", Role.CASEWORKER),
    ("arkivar@eksempel.kommune.no", "Arne Arkivar", Role.RECORDS_OFFICER),
    ("admin@eksempel.kommune.no", "Ada Admin", Role.ADMIN),
)


def seed_demo(instance_path: str) -> list[tuple[str, str, str]]:
    """Create the demo tenant once; returns the logins (email, password, role)."""
    logins_file = Path(instance_path) / "demo-logins.txt"
    if db.session.scalar(select(Tenant).where(Tenant.slug == DEMO_SLUG)) is not None:
        return _read_logins(logins_file)
    tenant = Tenant(slug=DEMO_SLUG, name="Eksempel kommune", retention_days=90)
    db.session.add(tenant)
    db.session.flush()
    team = Team(tenant_id=tenant.id, name="Servicetorget")
    db.session.add(team)
    db.session.flush()
    db.session.add(
        ChannelAccount(
            tenant_id=tenant.id,
            kind=ChannelKind.WEBCHAT,
            name="Chat på eksempel.kommune.no",
            external_id="wk_" + secrets.token_urlsafe(12),
            team_id=team.id,
        )
    )
    db.session.add(
        RecordsCase(
            tenant_id=tenant.id,
            saksaar=utcnow().year,
            sakssekvensnummer=1,
            title="Byggesak – Storgata 1",
        )
    )
    logins = []
    for email, name, role in DEMO_USERS:
        password = secrets.token_urlsafe(9)
        user = create_user(email, name, password, {tenant.id: role})
        db.session.add(TeamMember(team_id=team.id, user_id=user.id))
        logins.append((email, password, role.value))
    logins_file.write_text("".join(f"{e}\t{p}\t{r}\n" for e, p, r in logins))
    logins_file.chmod(0o600)
    return logins


def _read_logins(path: Path) -> list[tuple[str, str, str]]:
    if not path.exists():
        return []
    rows = [line.split("\t") for line in path.read_text().splitlines() if line]
    return [(r[0], r[1], r[2]) for r in rows if len(r) == 3]
