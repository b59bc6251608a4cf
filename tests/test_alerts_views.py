"""The alert pages: who may use them, write -> preview -> confirm (second person), follow,
replies under the alert, archive flag, and one municipality never seeing another's alerts."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select

import channels.sms_alerts.tasks  # noqa: F401
from archiving.models import ArchiveItem, ArchiveItemMessage
from channels.sms_alerts import services as alerts
from inbox.extensions import db
from inbox.models import Alert, AlertState, Membership, Message, Role
from tests.alerts_support import author, csv_of, numbers, recipients
from tests.factories import PASSWORD
from tests.sms_support import sms_setup


@pytest.fixture
def sms(app, factory, monkeypatch):
    app.config.update(ALERT_RATE_PER_SECOND=1000, ALERT_CONFIRM_ABOVE=5)
    with sms_setup(app, factory, monkeypatch) as sms:
        yield sms


def sign_in(client, user):
    from flask import g

    g.pop("_login_user", None)
    resp = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert resp.status_code == 302


def upload(client, sms, data: bytes, **form):
    fields = {
        "tenant_id": str(sms.tenant.id),
        "title": "Vannbrudd",
        "body": "Vannet er stengt i Kvernhusvegen til kl. 14.",
        "account_id": str(sms.account.id),
        "sender": "number",
        "source": "csv",
        "file": (io.BytesIO(data), "mottakere.csv"),
        **form,
    }
    return client.post("/alerts/new", data=fields, content_type="multipart/form-data")


def test_caseworker_without_alert_rights_is_refused(app, sms, factory):
    plain = factory.user(sms.tenant, Role.CASEWORKER)
    client = app.test_client()
    sign_in(client, plain)
    assert client.get("/alerts/").status_code == 403
    assert upload(client, sms, b"91234567\n").status_code == 403
    assert "/alerts/" not in client.get("/").get_data(as_text=True)


def test_bad_csv_shows_what_was_wrong_and_what_will_be_sent(app, sms):
    user = author(sms)
    client = app.test_client()
    sign_in(client, user)
    data = (
        "Navn;Telefon\r\nÅse;912 34 567\r\n\r\nPer;hallo\r\n"
        "Åse igjen;+4791234567\r\nOla;4798765432\r\n"
    )
    resp = upload(client, sms, data.encode("cp1252"))
    assert resp.status_code == 302
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    alert = db.session.scalars(select(Alert)).one()
    assert [r.phone for r in recipients(alert)] == ["+4791234567", "+4798765432"]
    assert alert.rejected == [
        {"row": 4, "value": "hallo", "reason": "invalid"},
        {"row": 5, "value": "+4791234567", "reason": "duplicate", "first_row": 2},
    ]
    assert "ikke et telefonnummer" in page and "rad 2" in page
    assert 'id="est-recipients">2<' in page


def test_oversized_and_binary_files_get_a_clear_error_and_store_nothing(app, sms):
    app.config["ALERT_MAX_CSV_BYTES"] = 1024
    user = author(sms)
    client = app.test_client()
    sign_in(client, user)
    resp = upload(client, sms, b"91234567\n" * 500)
    assert resp.status_code == 400
    assert "for stor" in resp.get_data(as_text=True)
    resp = upload(client, sms, b"91234567\n" * 300_000)  # over MAX_CONTENT_LENGTH itself
    assert resp.status_code == 413
    resp = upload(client, sms, b"PK\x03\x04\x00\x00")
    assert resp.status_code == 400 and "CSV" in resp.get_data(as_text=True)
    assert db.session.scalars(select(Alert)).all() == []


def test_large_alert_needs_a_second_person_then_sends(app, sms, factory, tasks):
    user = author(sms)
    client = app.test_client()
    sign_in(client, user)
    resp = upload(client, sms, csv_of(numbers(8)))
    alert_id = int(resp.headers["Location"].rsplit("/", 1)[1])
    page = client.get(f"/alerts/{alert_id}").get_data(as_text=True)
    assert "andre person" in page
    client.post(f"/alerts/{alert_id}/confirm")
    alert = db.session.get(Alert, alert_id)
    assert alert.state is AlertState.AWAITING_APPROVAL
    assert client.post(f"/alerts/{alert_id}/confirm").status_code == 302  # author again
    db.session.expire_all()
    assert alert.state is AlertState.AWAITING_APPROVAL and not tasks.sent
    second = author(sms)
    other = app.test_client()
    sign_in(other, second)
    other.post(f"/alerts/{alert_id}/confirm")
    db.session.expire_all()
    assert alert.state is AlertState.SENDING and alert.approved_by_id == second.id
    tasks.run_all()
    assert len(sms.fake.sent()) == 8
    db.session.expire_all()
    progress = other.get(f"/alerts/{alert_id}/progress").get_json()
    assert (progress["sent"], progress["queued"], progress["state"]) == (8, 0, "done")


def test_follow_up_and_archive_flag(app, sms, tasks):
    user = author(sms)
    client = app.test_client()
    sign_in(client, user)
    resp = upload(client, sms, csv_of(numbers(3)))
    alert_id = int(resp.headers["Location"].rsplit("/", 1)[1])
    client.post(f"/alerts/{alert_id}/confirm")
    tasks.run_all()
    resp = client.post(f"/alerts/{alert_id}/archive")
    alert = db.session.get(Alert, alert_id)
    item = db.session.get(ArchiveItem, alert.archive_item_id)
    [link] = db.session.scalars(
        select(ArchiveItemMessage).where(ArchiveItemMessage.archive_item_id == item.id)
    ).all()
    assert link.journalposttype == "U"
    assert "3" in item.correspondent_name
    assert alert.body in db.session.get(Message, link.message_id).body
    assert client.post(f"/alerts/{alert_id}/archive").status_code == 302  # once only
    assert len(db.session.scalars(select(ArchiveItem)).all()) == 1

    page = client.get(f"/alerts/new?follows={alert_id}").get_data(as_text=True)
    assert "follows" in page
    resp = client.post(
        "/alerts/new",
        data={
            "tenant_id": str(sms.tenant.id),
            "title": "Vannet er tilbake",
            "body": "Vannet er tilbake i Kvernhusvegen.",
            "account_id": str(sms.account.id),
            "follows": str(alert_id),
        },
    )
    assert resp.status_code == 302
    follow = db.session.scalars(select(Alert).where(Alert.follows_id == alert_id)).one()
    assert sorted(r.phone for r in recipients(follow)) == sorted(
        r.phone for r in recipients(db.session.get(Alert, alert_id))
    )


def test_replies_show_the_alert_on_top_of_the_thread(app, sms, tasks, factory):
    team = factory.team(sms.tenant, "Vann")
    user = author(sms)
    client = app.test_client()
    sign_in(client, user)
    resp = upload(client, sms, csv_of(numbers(2)), team_id=str(team.id))
    alert_id = int(resp.headers["Location"].rsplit("/", 1)[1])
    client.post(f"/alerts/{alert_id}/confirm")
    tasks.run_all()
    sms.inbound("Gjelder dette Kvernhusvegen 12?", from_=f"+47{numbers(1)[0]}")
    [conv] = alerts.replies(db.session.get(Alert, alert_id))
    assert conv.team_id == team.id
    page = client.get(f"/alerts/{alert_id}").get_data(as_text=True)
    assert f"/c/{conv.id}" in page
    admin = factory.user(sms.tenant, Role.ADMIN)
    other = app.test_client()
    sign_in(other, admin)
    thread = other.get(f"/c/{conv.id}").get_data(as_text=True)
    assert 'id="alert-banner"' in thread and "Vannet er stengt i Kvernhusvegen" in thread


def test_one_municipality_never_sees_anothers_alerts(app, sms, factory, tasks):
    user = author(sms)
    client = app.test_client()
    sign_in(client, user)
    resp = upload(client, sms, csv_of(numbers(2)))
    alert_id = int(resp.headers["Location"].rsplit("/", 1)[1])
    other_tenant = factory.tenant()
    stranger = factory.user(other_tenant, Role.ADMIN)
    other = app.test_client()
    sign_in(other, stranger)
    assert other.get(f"/alerts/{alert_id}").status_code == 404
    assert other.get(f"/alerts/{alert_id}/progress").status_code == 404
    assert other.post(f"/alerts/{alert_id}/confirm").status_code == 404
    assert "Vannbrudd" not in other.get("/alerts/").get_data(as_text=True)
    # nor send from its number, nor use its tags or lists
    resp = upload(other, sms, csv_of(numbers(1)), tenant_id=str(sms.tenant.id))
    assert resp.status_code == 404
    assert db.session.scalars(select(Alert)).all() == [db.session.get(Alert, alert_id)]
    with pytest.raises(alerts.AlertError):
        alerts.create(
            other_tenant.id,
            stranger,
            title="x",
            body="y",
            account_id=sms.account.id,
            sender="number",
            team_id=None,
            source=alerts.Source("x", [{"phone": "+4791234567"}]),
        )


def test_admin_grants_alert_rights_on_the_staff_page_and_by_cli(app, sms, factory):
    admin = factory.user(sms.tenant, Role.ADMIN)
    worker = factory.user(sms.tenant, Role.CASEWORKER)
    client = app.test_client()
    sign_in(client, admin)
    page = client.get(f"/admin/staff/{sms.tenant.id}/people/{worker.id}")
    assert page.status_code == 200 and "alert-rights-form" in page.get_data(as_text=True)
    client.post(f"/alerts/rights/{sms.tenant.id}/{worker.id}", data={"may_send_alerts": "1"})
    db.session.expire_all()
    assert db.session.get(Membership, (worker.id, sms.tenant.id)).may_send_alerts
    client.post(f"/alerts/rights/{sms.tenant.id}/{worker.id}", data={})
    db.session.expire_all()
    assert not db.session.get(Membership, (worker.id, sms.tenant.id)).may_send_alerts
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["alerts", "grant", "--tenant", sms.tenant.slug, "--email", worker.email]
    )
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    assert db.session.get(Membership, (worker.id, sms.tenant.id)).may_send_alerts
    bad = runner.invoke(args=["alerts", "grant", "--tenant", "nope", "--email", worker.email])
    assert bad.exit_code != 0


def test_recipients_from_a_tag_and_from_a_saved_list(app, sms, factory):
    from inbox.models import IdentityKind
    from inbox.services import tags

    user = author(sms)
    for phone, tag in (
        ("+4791111111", "vannverk"),
        ("+4792222222", "vannverk"),
        ("+4793333333", "skole"),
    ):
        conv = factory.conversation(sms.account, identity=phone, kind=IdentityKind.PHONE)
        tags.add(conv, user, tag)
    other = factory.tenant()  # a tag of the same name elsewhere is not ours
    other_acc = factory.channel(other, external_id="other-web")
    conv = factory.conversation(other_acc, identity="+4794444444", kind=IdentityKind.PHONE)
    tags.add(conv, user, "vannverk")
    db.session.commit()
    from inbox.models import Tag

    tag = db.session.scalar(
        select(Tag).where(Tag.tenant_id == sms.tenant.id, Tag.name == "vannverk")
    )
    client = app.test_client()
    sign_in(client, user)
    page = client.get("/alerts/new").get_data(as_text=True)
    assert "vannverk" in page
    resp = client.post(
        "/alerts/new",
        data={
            "tenant_id": str(sms.tenant.id),
            "title": "Vannverk",
            "body": "Planlagt stans i morgen.",
            "account_id": str(sms.account.id),
            "source": "tag",
            "tag_id": str(tag.id),
        },
    )
    assert resp.status_code == 302
    alert = db.session.scalars(select(Alert).where(Alert.title == "Vannverk")).one()
    assert sorted(r.phone for r in recipients(alert)) == ["+4791111111", "+4792222222"]

    # a CSV saved as a list, then used for the next alert
    resp = upload(client, sms, csv_of(numbers(3)), save_list="1", list_name="Kvernhusvegen")
    assert resp.status_code == 302
    [saved] = alerts.lists(sms.tenant.id)
    assert saved.name == "Kvernhusvegen" and len(saved.entries) == 3
    resp = client.post(
        "/alerts/new",
        data={
            "tenant_id": str(sms.tenant.id),
            "title": "Fra liste",
            "body": "Hei",
            "account_id": str(sms.account.id),
            "source": "list",
            "list_id": str(saved.id),
        },
    )
    assert resp.status_code == 302
    alert = db.session.scalars(select(Alert).where(Alert.title == "Fra liste")).one()
    assert len(recipients(alert)) == 3
    # another municipality's list or tag cannot be used
    with pytest.raises(alerts.AlertError):
        alerts.from_list(other.id, saved.id)
    with pytest.raises(alerts.AlertError):
        alerts.from_tag(other.id, tag.id)
