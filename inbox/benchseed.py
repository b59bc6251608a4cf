"""A realistic data set for the performance benchmark (`servicetorg seed-bench`).

Default size: 1,000,000 messages in 200,000 conversations over 3 municipalities and 4 channels
each, about 150,000 citizens, with a conversation of 200 messages for the thread benchmark.
On PostgreSQL the rows are streamed with COPY (secondary indexes on the big tables are dropped
during the load and rebuilt afterwards, exactly as they were); on SQLite (tests) they are
inserted in batches. Deterministic for a given seed.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from inbox.extensions import db
from inbox.models import (
    ChannelAccount,
    ChannelKind,
    Contact,
    ContactIdentity,
    Conversation,
    Membership,
    Message,
    Role,
    Team,
    TeamMember,
    Tenant,
    User,
)
from inbox.services.users import hash_password

BENCH_PASSWORD = "bench horse battery staple"  # noqa: S105 (benchmark data only)
CHANNELS = (ChannelKind.WEBCHAT, ChannelKind.SMS, ChannelKind.MESSENGER, ChannelKind.WEB_COMMENTS)
IDENTITY = {
    ChannelKind.WEBCHAT: "chat_visitor",
    ChannelKind.SMS: "phone",
    ChannelKind.MESSENGER: "facebook_psid",
    ChannelKind.WEB_COMMENTS: "web_author",
}
FIRST = [
    "Kari",
    "Ola",
    "Ingrid",
    "Lars",
    "Anne",
    "Per",
    "Marit",
    "Jon",
    "Silje",
    "Knut",
    "Nora",
    "Emil",
    "Sofie",
    "Jakob",
    "Ida",
    "Henrik",
    "Aud",
    "Sindre",
    "Hilde",
    "Eirik",
    "Maja",
    "Tor",
    "Liv",
    "Håkon",
    "Åse",
    "Øystein",
    "Berit",
    "Trond",
    "Mette",
    "Geir",
]
LAST = [
    "Hansen",
    "Johansen",
    "Olsen",
    "Larsen",
    "Andersen",
    "Pedersen",
    "Nilsen",
    "Kristiansen",
    "Jensen",
    "Karlsen",
    "Johnsen",
    "Pettersen",
    "Eriksen",
    "Berg",
    "Haugen",
    "Hagen",
    "Johannessen",
    "Andreassen",
    "Jacobsen",
    "Dahl",
    "Jørgensen",
    "Halvorsen",
    "Henriksen",
    "Lund",
    "Sørensen",
    "Moen",
    "Solberg",
    "Bakken",
    "Kristoffersen",
    "Strand",
]
TOPICS = [
    "søppeltømming",
    "barnehageplass",
    "byggesøknad",
    "parkeringstillatelse",
    "eiendomsskatt",
    "snømåking",
    "vannlekkasje",
    "skoleskyss",
    "legevakt",
    "hjemmetjeneste",
    "gatelys",
    "brøyting",
    "kommunestyret",
    "bibliotek",
    "svømmehall",
    "startlån",
    "sosialhjelp",
    "fastlege",
    "tannlege",
    "renovasjon",
    "avløp",
    "feiing",
    "hundeluftegård",
    "kulturskole",
    "skolefritidsordning",
    "boligtilskudd",
    "vigsel",
    "gravplass",
]
OPENINGS = (
    "Hei, jeg lurer på",
    "Hei! Kan dere hjelpe meg med",
    "God dag. Jeg har et spørsmål om",
    "Hallo, hvem kan svare på noe om",
    "Takk for svar. Men hva med",
    "Hei igjen, jeg har fortsatt ikke fått svar om",
)
DETAILS = (
    "Vi bor i {street} {n} og har ventet i {d} dager.",
    "Søknaden ble sendt {d}. mars og saksnummeret er 2026/{n}.",
    "Det gjelder {street} {n}, ved siden av skolen.",
    "Kan noen ringe meg tilbake i dag?",
    "Jeg har prøvd å ringe servicetorget flere ganger uten å komme gjennom.",
    "Naboen sier at fristen er forlenget, stemmer det?",
    "Hvor finner jeg skjemaet på nettsiden deres?",
    "Vedlagt er bilde av problemet.",
)
REPLIES = (
    "Takk for meldingen. Vi har sendt saken videre til riktig avdeling.",
    "Hei! Du finner skjemaet på kommunens nettside under Selvbetjening.",
    "Vi har registrert henvendelsen og kommer tilbake til deg innen tre virkedager.",
    "Saken er nå behandlet. Ta gjerne kontakt igjen om noe er uklart.",
)
STREETS = [
    "Storgata",
    "Kirkeveien",
    "Skoleveien",
    "Fjordgata",
    "Bakkeveien",
    "Elvegata",
    "Sjøveien",
    "Torget",
]


@dataclass
class SeedResult:
    tenants: list[int] = field(default_factory=list)
    user_email: str = ""
    long_conversation_id: int = 0
    phone: str = ""
    conversations: int = 0
    messages: int = 0


def _citizen_text(rng: random.Random) -> str:
    detail = rng.choice(DETAILS).format(
        street=rng.choice(STREETS), n=rng.randint(1, 9999), d=rng.randint(1, 30)
    )
    return f"{rng.choice(OPENINGS)} {rng.choice(TOPICS)}. {detail}"


def _fmt(value: Any) -> Any:
    if isinstance(value, datetime):
        return value
    if isinstance(value, dict):
        return json.dumps(value)
    return value


def seed_bench(
    conversations: int = 200_000,
    messages: int = 1_000_000,
    tenants: int = 3,
    long_thread: int = 200,
    seed: int = 2026,
) -> SeedResult:
    """Create the data set in the current database; commits."""
    rng = random.Random(seed)
    result = SeedResult(conversations=conversations, messages=messages)
    setup = _setup(tenants, rng, result)
    for model in (Contact, ContactIdentity, Conversation, Message):
        setup.offsets[model.__tablename__] = db.session.scalar(select(func.max(model.id))) or 0
    db.session.commit()
    writer = _Writer()
    try:
        writer.load(
            "contact",
            ("id", "tenant_id", "name", "phone", "created_at"),
            _contacts(setup, conversations, rng, result),
        )
        writer.load(
            "contact_identity",
            ("id", "tenant_id", "contact_id", "kind", "value", "created_at"),
            setup.identities,
        )
        convs, threads = _conversations(setup, conversations, messages, long_thread, rng, result)
        writer.load("conversation", CONVERSATION_COLUMNS, convs)
        writer.load("message", MESSAGE_COLUMNS, _messages(setup, threads, rng))
        writer.finish()
    except BaseException:
        writer.abort()
        raise
    return result


# -- small tables through the ORM ---------------------------------------------------------------


@dataclass
class _Setup:
    tenant_ids: list[int]
    weights: list[float]
    accounts: dict[int, list[tuple[int, ChannelKind]]]
    teams: dict[int, list[int]]
    users: dict[int, list[int]]
    bench_user: int
    contacts_by_tenant: dict[int, list[tuple[int, ChannelKind, str]]] = field(default_factory=dict)
    identities: list[tuple[Any, ...]] = field(default_factory=list)
    offsets: dict[str, int] = field(default_factory=dict)  # ids already taken per table


def _setup(n_tenants: int, rng: random.Random, result: SeedResult) -> _Setup:
    setup = _Setup([], [], {}, {}, {}, 0)
    password_hash = hash_password(BENCH_PASSWORD)
    for i in range(n_tenants):
        tenant = Tenant(slug=f"bench-{i + 1}-{rng.randrange(10**6)}", name=f"Benchkommune {i + 1}")
        db.session.add(tenant)
        db.session.flush()
        setup.tenant_ids.append(tenant.id)
        setup.weights.append([0.5, 0.3, 0.2][i] if n_tenants == 3 else 1.0)
        teams = [Team(tenant_id=tenant.id, name=n) for n in ("Servicetorget", "Bygg", "Helse")]
        db.session.add_all(teams)
        accounts = [
            ChannelAccount(
                tenant_id=tenant.id,
                kind=kind,
                name=f"{kind.value} {i + 1}",
                external_id=f"bench-{tenant.slug}-{kind.value}",
                team_id=None,
            )
            for kind in CHANNELS
        ]
        db.session.add_all(accounts)
        db.session.flush()
        setup.teams[tenant.id] = [t.id for t in teams]
        setup.accounts[tenant.id] = [(a.id, a.kind) for a in accounts]
        users = [
            User(email=f"saksbehandler{u}@{tenant.slug}.bench.no", name=f"Saksbehandler {u}")
            for u in range(20)
        ]
        for user in users:
            user.password_hash = password_hash  # one argon2 hash: hashing is slow on purpose
        db.session.add_all(users)
        db.session.flush()
        db.session.add_all(
            Membership(user_id=u.id, tenant_id=tenant.id, role=Role.CASEWORKER) for u in users
        )
        setup.users[tenant.id] = [u.id for u in users]
        for idx, user in enumerate(users):
            # The first caseworker leads the desk and belongs to every team (the benchmark
            # signs in as them); the others to one team each.
            for team in teams if idx == 0 else [teams[idx % 3]]:
                db.session.add(TeamMember(team_id=team.id, user_id=user.id))
        if i == 0:
            setup.bench_user = users[0].id
            result.user_email = users[0].email
    result.tenants = list(setup.tenant_ids)
    return setup


# -- bulk rows --------------------------------------------------------------------------------

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
SPAN = timedelta(days=730)


def _contacts(
    setup: _Setup, n_conv: int, rng: random.Random, result: SeedResult
) -> Iterator[tuple[Any, ...]]:
    n_contacts = max(1, int(n_conv * 0.75))
    ident_id = setup.offsets["contact_identity"]
    for cid in range(setup.offsets["contact"] + 1, setup.offsets["contact"] + n_contacts + 1):
        tenant = rng.choices(setup.tenant_ids, setup.weights)[0]
        kind = rng.choice(CHANNELS)
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}" if rng.random() < 0.8 else None
        phone = None
        if kind is ChannelKind.SMS:
            value = f"+47{rng.choice('49')}{cid:07d}"
            phone = value
            if not result.phone:
                result.phone = value
        else:
            value = f"{kind.value}-{cid:08d}"
        ident_id += 1
        setup.identities.append((ident_id, tenant, cid, IDENTITY[kind], value, NOW - SPAN))
        setup.contacts_by_tenant.setdefault(tenant, []).append((cid, kind, value))
        yield (cid, tenant, name, phone, NOW - SPAN)


CONVERSATION_COLUMNS = (
    "id", "tenant_id", "contact_id", "channel_account_id", "status", "assignee_id", "team_id",
    "last_activity_at", "last_inbound_at", "waiting_since", "has_unread", "flagged_for_archive",
    "closed_at", "meta", "created_at", "updated_at",
)  # fmt: skip
MESSAGE_COLUMNS = (
    "id", "tenant_id", "conversation_id", "channel_account_id", "direction", "is_note",
    "author_id", "contact_id", "body", "provider_message_id", "delivery_status",
    "send_attempts", "sent_at", "meta", "created_at",
)  # fmt: skip


def _thread_sizes(n_conv: int, n_msg: int, long_thread: int, rng: random.Random) -> list[int]:
    sizes = [long_thread] + [rng.randint(1, 9) for _ in range(n_conv - 1)]
    diff = n_msg - sum(sizes)
    i = 1
    while diff != 0 and n_conv > 1:
        step = 1 if diff > 0 else -1
        if 1 <= sizes[i] + step <= 40:
            sizes[i] += step
            diff -= step
        i = i + 1 if i + 1 < n_conv else 1
    return sizes


def _conversations(
    setup: _Setup, n_conv: int, n_msg: int, long_thread: int, rng: random.Random, result: SeedResult
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    sizes = _thread_sizes(n_conv, n_msg, long_thread, rng)
    rows, threads = [], []
    first_tenant = setup.tenant_ids[0]
    for idx in range(n_conv):
        conv_id = setup.offsets["conversation"] + idx + 1
        tenant = first_tenant if idx == 0 else rng.choices(setup.tenant_ids, setup.weights)[0]
        contact_id, kind, _value = rng.choice(
            setup.contacts_by_tenant.get(tenant) or [(1, CHANNELS[0], "")]
        )
        account = next(a for a, k in setup.accounts[tenant] if k is kind)
        start = NOW - SPAN * (1 - idx / n_conv) + timedelta(seconds=rng.randint(0, 3600))
        gap = timedelta(minutes=rng.randint(2, 240))
        last = start + gap * (sizes[idx] - 1)
        roll = rng.random()
        status = "closed"
        if idx == 0 or roll < 0.08 or idx > n_conv * 0.97:
            status = "open"
        elif roll < 0.12:
            status = "pending"
        elif roll < 0.14:
            status = "snoozed"
        open_ = status != "closed"
        assignee = None
        if open_ and rng.random() < 0.6:
            assignee = setup.bench_user if rng.random() < 0.05 else rng.choice(setup.users[tenant])
        waiting = last if open_ and rng.random() < 0.6 else None
        rows.append(
            (
                conv_id, tenant, contact_id, account, status, assignee,
                rng.choice(setup.teams[tenant]), last, last, waiting,
                open_ and rng.random() < 0.3, rng.random() < 0.01,
                None if open_ else last + timedelta(hours=1), {}, start, last,
            )
        )  # fmt: skip
        threads.append((conv_id, tenant, account, contact_id, sizes[idx], start, gap, assignee))
    result.long_conversation_id = setup.offsets["conversation"] + 1
    return rows, threads


def _messages(
    setup: _Setup, threads: list[tuple[Any, ...]], rng: random.Random
) -> Iterator[tuple[Any, ...]]:
    mid = setup.offsets["message"]
    for conv_id, tenant, account, contact_id, size, start, gap, assignee in threads:
        author = assignee or setup.users[tenant][0]
        for j in range(size):
            mid += 1
            at = start + gap * j
            inbound = j % 2 == 0
            if inbound:
                yield (
                    mid, tenant, conv_id, account, "in", False, None, contact_id,
                    _citizen_text(rng), f"bench-{mid}", "received", 0, at, {}, at,
                )  # fmt: skip
            else:
                note = rng.random() < 0.1
                body = "Internt: sjekk med byggesak først." if note else rng.choice(REPLIES)
                yield (
                    mid, tenant, conv_id, account, "out", note, author, None,
                    body, None, "delivered", 1, at, {}, at,
                )  # fmt: skip


# -- writing ----------------------------------------------------------------------------------


class _Writer:
    """COPY on PostgreSQL (indexes rebuilt afterwards), batched inserts elsewhere."""

    BIG = ("conversation", "message")

    def __init__(self) -> None:
        self.raw = db.engine.raw_connection()
        self.pg = db.engine.dialect.name == "postgresql"
        self.saved: list[str] = []
        if self.pg:
            cur = self.raw.cursor()
            cur.execute(
                "SELECT pg_get_indexdef(i.indexrelid), c2.relname FROM pg_index i "
                "JOIN pg_class c ON c.oid = i.indrelid JOIN pg_class c2 ON c2.oid = i.indexrelid "
                "WHERE c.relname = ANY(%s) AND NOT i.indisprimary AND NOT EXISTS "
                "(SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)",
                (list(self.BIG),),
            )
            for definition, name in cur.fetchall():
                self.saved.append(definition)
                cur.execute(f'DROP INDEX "{name}"')
            cur.execute("SET LOCAL maintenance_work_mem = '512MB'")

    def load(self, table: str, columns: Sequence[str], rows: Iterable[tuple[Any, ...]]) -> None:
        cur = self.raw.cursor()
        if self.pg:
            cols = ", ".join(columns)
            with cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row([_fmt(v) for v in row])
            setval = "SELECT setval(pg_get_serial_sequence(%s, 'id'), (SELECT max(id) FROM {}))"
            cur.execute(setval.format(table), (table,))
            return
        marks = ", ".join("?" for _ in columns)
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608
        batch: list[tuple[Any, ...]] = []
        for row in rows:
            batch.append(tuple(_sqlite(v) for v in row))
            if len(batch) >= 5000:
                cur.executemany(sql, batch)
                batch.clear()
        if batch:
            cur.executemany(sql, batch)

    def finish(self) -> None:
        cur = self.raw.cursor()
        for definition in self.saved:
            cur.execute(definition)
        self.raw.commit()
        if self.pg:
            self.raw.driver_connection.autocommit = True
            for table in ("contact", "contact_identity", "conversation", "message"):
                cur.execute(f"VACUUM ANALYZE {table}")
            self.raw.driver_connection.autocommit = False
        self.raw.close()

    def abort(self) -> None:
        self.raw.rollback()
        self.raw.close()


def _sqlite(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")
    if isinstance(value, dict):
        return json.dumps(value)
    return value
