"""The insight page: every chart's CSV equals its table, bad parameters get a clear 400, only
records officers and admins get in, and one municipality cannot read another's figures."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest
from lxml import html

from inbox.extensions import db
from inbox.models import ChannelKind, ConversationTag, Role, Tag
from inbox.services import insight
from inbox.views.insight import CHARTS
from tests.test_insight import WEEKDAYS, make, utc

PERIOD = {"from": "2026-09-01", "to": "2026-09-30"}


@pytest.fixture
def world(factory):  # type: ignore[no-untyped-def]
    tenant = factory.tenant(name="Eksempel kommune", opening_hours=WEEKDAYS)
    team = factory.team(tenant, "Byggesak")
    chat = factory.channel(tenant, ChannelKind.WEBCHAT)
    sms = factory.channel(tenant, ChannelKind.SMS)
    start = utc(2026, 9, 7, 7)
    convs = []
    for i in range(6):
        at = start + timedelta(days=i, hours=i)
        conv = make(
            factory,
            chat if i % 2 else sms,
            at,
            body="Når blir søppelet hentet? Byggesøknad for garasje",
            replies=[at + timedelta(minutes=5 * (i + 1))],
            closed=at + timedelta(hours=i + 1),
            team=team.id if i < 3 else None,
        )
        convs.append(conv)
    make(factory, chat, utc(2026, 8, 20, 9))  # previous period
    tag = Tag(tenant_id=tenant.id, name="renovasjon")
    db.session.add(tag)
    db.session.flush()
    for conv in convs[:2]:
        db.session.add(ConversationTag(conversation_id=conv.id, tag_id=tag.id))
    db.session.commit()
    insight.refresh(tenant)
    return {
        "tenant": tenant,
        "team": team,
        "admin": factory.user(tenant, Role.ADMIN),
        "records": factory.user(tenant, Role.RECORDS_OFFICER),
        "caseworker": factory.user(tenant, Role.CASEWORKER),
    }


def table_rows(page: bytes, table_id: str) -> list[list[str]]:
    doc = html.fromstring(page)
    (table,) = doc.xpath(f'//table[@id="table-{table_id}"]')
    return [
        [" ".join(cell.text_content().split()) for cell in tr.xpath("./th|./td")]
        for tr in table.xpath(".//tr")
    ]


def csv_rows(body: bytes) -> list[list[str]]:
    text = body.decode("utf-8").lstrip("\ufeff")
    return [
        [" ".join(c.split()) for c in row] for row in csv.reader(io.StringIO(text), delimiter=";")
    ]


def test_every_charts_csv_equals_its_table(client, login, world):
    login(world["records"])
    tenant = world["tenant"]
    page = client.get("/insight/", query_string={**PERIOD, "tenant": tenant.id})
    assert page.status_code == 200
    compared = 0
    for chart in CHARTS:
        resp = client.get(f"/insight/{tenant.id}/{chart}.csv", query_string=PERIOD)
        assert resp.status_code == 200
        assert resp.mimetype == "text/csv"
        if chart == "alerts":  # no alerts in the period: the page says so, the CSV is the header
            assert b"table-alerts" not in page.data
            assert len(csv_rows(resp.data)) == 1
            continue
        assert csv_rows(resp.data) == table_rows(page.data, chart), chart
        compared += 1
    assert compared == len(CHARTS) - 1

    summary = dict((r[0], r[1:]) for r in table_rows(page.data, "summary"))
    assert summary["Henvendelser"] == ["6", "1"]
    # First answers after 5, 10, ..., 30 minutes: median 17.5 minutes.
    assert summary["Første svar, median (minutter)"][0] == "17,5"
    volume = table_rows(page.data, "volume")
    assert volume[-2] == ["Totalt", "3", "3", "6"]


def test_the_page_shows_charts_in_patterns_and_no_alerts(client, login, world):
    login(world["admin"])
    page = client.get("/insight/", query_string=PERIOD)
    assert page.status_code == 200
    doc = html.fromstring(page.data)
    charts = doc.xpath("//svg")
    assert len(charts) >= 5
    assert doc.xpath("//svg//pattern")  # series told apart by pattern, not colour alone
    assert "Ingen SMS-varsler ble sendt i denne perioden" in page.get_data(as_text=True)
    assert doc.xpath('//form[contains(@action, "/costs")]')  # admins set the costs


def test_team_filter(client, login, world):
    login(world["records"])
    tenant, team = world["tenant"], world["team"]
    page = client.get("/insight/", query_string={**PERIOD, "team": team.id})
    summary = dict((r[0], r[1:]) for r in table_rows(page.data, "summary"))
    assert summary["Henvendelser"][0] == "3"
    page = client.get("/insight/", query_string={**PERIOD, "team": 0, "tenant": tenant.id})
    summary = dict((r[0], r[1:]) for r in table_rows(page.data, "summary"))
    assert summary["Henvendelser"][0] == "3"


@pytest.mark.parametrize(
    "args",
    [
        {"from": "2026-13-01"},
        {"from": "yesterday"},
        {"from": "2026-09-30", "to": "2026-09-01"},
        {"from": "2020-01-01", "to": "2026-01-01"},
        {"month": "2026-9x"},
        {"team": "abc"},
        {"team": "999999"},
        {"from": "0001-01-01", "to": "0001-01-02"},
    ],
)
def test_bad_parameters_get_a_clear_400(client, login, world, args):
    login(world["records"])
    resp = client.get("/insight/", query_string=args)
    assert resp.status_code == 400
    assert b'role="alert"' in resp.data
    resp = client.get(f"/insight/{world['tenant'].id}/summary.csv", query_string=args)
    assert resp.status_code == 400


def test_caseworkers_and_other_municipalities_are_refused(client, login, world, factory):
    tenant = world["tenant"]
    login(world["caseworker"])
    assert client.get("/insight/").status_code == 403
    assert client.get(f"/insight/{tenant.id}/summary.csv").status_code == 403

    other = factory.tenant()
    outsider = factory.user(other, Role.ADMIN)
    login(outsider)
    assert client.get("/insight/", query_string={"tenant": tenant.id}).status_code == 404
    assert client.get(f"/insight/{tenant.id}/summary.csv").status_code == 404
    assert client.get(f"/insight/{tenant.id}/report").status_code == 404
    assert client.post(f"/insight/{tenant.id}/refresh").status_code == 404
    # Their own page shows none of the first municipality's inquiries.
    page = client.get("/insight/", query_string=PERIOD)
    summary = dict((r[0], r[1:]) for r in table_rows(page.data, "summary"))
    assert summary["Henvendelser"] == ["0", "0"]
    assert "søppelet" not in page.get_data(as_text=True)


def test_admin_sets_costs_and_bad_costs_are_refused(client, login, world):
    tenant = world["tenant"]
    login(world["records"])
    assert client.post(f"/insight/{tenant.id}/costs", data={"sms": "7"}).status_code == 403
    login(world["admin"])
    resp = client.post(f"/insight/{tenant.id}/costs", data={"sms": "lots", **PERIOD})
    assert resp.status_code == 303
    assert insight.costs_for(tenant.id)["sms"] == insight.DEFAULT_COSTS["sms"]
    resp = client.post(f"/insight/{tenant.id}/costs", data={"sms": "7,5", **PERIOD})
    assert resp.status_code == 303
    page = client.get(resp.headers["Location"])
    cost = {r[0]: r[1:] for r in table_rows(page.data, "cost")}
    assert cost["SMS"] == ["3", "7,5", "22,5"]
    assert cost["De samme kontaktene på telefon"] == ["6", "40", "240"]


def test_refresh_on_demand(client, login, world, factory):
    """The page keeps its figures until the next refresh, then shows the new ones."""
    tenant = world["tenant"]
    login(world["records"])
    before = client.get("/insight/", query_string=PERIOD)
    assert dict((r[0], r[1:]) for r in table_rows(before.data, "summary"))["Henvendelser"][0] == "6"
    make(factory, factory.channel(tenant), utc(2026, 9, 20, 9))
    same = client.get("/insight/", query_string=PERIOD)
    assert dict((r[0], r[1:]) for r in table_rows(same.data, "summary"))["Henvendelser"][0] == "6"
    resp = client.post(f"/insight/{tenant.id}/refresh", data=PERIOD)
    assert resp.status_code == 302
    page = client.get(resp.headers["Location"])
    summary = dict((r[0], r[1:]) for r in table_rows(page.data, "summary"))
    assert summary["Henvendelser"][0] == "7"


def test_monthly_report_prints_and_renders_as_pdf(client, login, world):
    login(world["records"])
    tenant = world["tenant"]
    resp = client.get(f"/insight/{tenant.id}/report", query_string={"month": "2026-09"})
    assert resp.status_code == 200
    assert "2026-09-01 – 2026-09-30" in resp.get_data(as_text=True)
    assert table_rows(resp.data, "summary")[1] == ["Henvendelser", "6", "1"]
    pdf = client.get(
        f"/insight/{tenant.id}/report", query_string={"month": "2026-09", "format": "pdf"}
    )
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    assert date(2026, 9, 1)  # the month is the period


def test_a_tag_named_like_a_formula_is_not_a_formula_in_the_csv(client, login, world):
    tenant = world["tenant"]
    tag = Tag(tenant_id=tenant.id, name='=HYPERLINK("http://x")')
    db.session.add(tag)
    db.session.flush()
    conv_id = db.session.scalars(
        db.select(ConversationTag.conversation_id).where(ConversationTag.tag_id.is_not(None))
    ).first()
    db.session.add(ConversationTag(conversation_id=conv_id, tag_id=tag.id))
    db.session.commit()
    login(world["records"])
    page = client.get("/insight/", query_string=PERIOD)
    assert ['=HYPERLINK("http://x")', "1"] in table_rows(page.data, "tags")
    resp = client.get(f"/insight/{tenant.id}/tags.csv", query_string=PERIOD)
    assert ['\'=HYPERLINK("http://x")', "1"] in csv_rows(resp.data)
