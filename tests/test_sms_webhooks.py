"""Inbound SMS: signed webhooks, storage before 2xx, dedupe, routing, STOP/START."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from channels.twilio_sms.services import signature_valid
from inbox.extensions import db
from inbox.models import ChannelAccount, ContactIdentity, Conversation, IdentityKind, Role
from tests.conftest import RecordingDispatcher, make_app
from tests.sms_support import CITIZEN, PUBLIC, sign, sms_setup

VECTOR_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
VECTOR_PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Digits": "1234",
    "From": "+14158675309",
    "To": "+18005551212",
    "Caller": "+14158675309",
}
VECTOR_SIGNATURE = "RSOYDt4T1cUTdK1PDd93/VVr8B8="


@pytest.fixture
def sms(app, factory, monkeypatch):
    with sms_setup(app, factory, monkeypatch) as s:
        yield s


def test_twilio_published_signature_vector_validates():
    assert sign(VECTOR_URL, VECTOR_PARAMS, "12345") == VECTOR_SIGNATURE
    assert signature_valid(VECTOR_URL, VECTOR_PARAMS, VECTOR_SIGNATURE, "12345")


@pytest.mark.parametrize(
    ("url", "params", "signature"),
    [
        (VECTOR_URL, {**VECTOR_PARAMS, "Digits": "1235"}, VECTOR_SIGNATURE),  # changed param
        (VECTOR_URL, VECTOR_PARAMS, None),  # missing header
        ("https://mycompany.com/myapp.php?foo=1&bar=3", VECTOR_PARAMS, VECTOR_SIGNATURE),
        ("http://mycompany.com/myapp.php?foo=1&bar=2", VECTOR_PARAMS, VECTOR_SIGNATURE),
    ],
    ids=["changed-param", "missing-header", "wrong-query", "http-not-https"],
)
def test_altered_signature_inputs_are_refused(url, params, signature):
    assert not signature_valid(url, params, signature, "12345")


def test_signed_sms_is_stored_before_the_empty_twiml_answer(sms):
    resp = sms.inbound("Hei! Når hentes søpla i Storgata?", from_="004791234567")
    assert resp.status_code == 200
    assert resp.mimetype == "text/xml" and "<Response></Response>" in resp.get_data(as_text=True)
    [msg] = sms.messages()
    assert msg.body == "Hei! Når hentes søpla i Storgata?"
    ident = db.session.scalars(select(ContactIdentity)).one()
    assert (ident.kind, ident.value) == (IdentityKind.PHONE, CITIZEN)  # E.164
    assert msg.conversation.contact.phone == CITIZEN


def test_forged_or_unsigned_webhooks_get_403_and_store_nothing(sms):
    params = {"MessageSid": "SM" + "a" * 32, "From": CITIZEN, "To": sms.account.external_id,
              "Body": "Hei", "NumMedia": "0", "FromCity": ""}  # fmt: skip
    good = sign(PUBLIC + sms.path(), params, sms.token)
    cases = {
        "forged": (params, {"X-Twilio-Signature": sign(PUBLIC + sms.path(), params, "nope")}),
        "unsigned": (params, {}),
        "changed-param": ({**params, "Body": "Hei!"}, {"X-Twilio-Signature": good}),
        "wrong-url": (params, {"X-Twilio-Signature": sign(PUBLIC + "/x", params, sms.token)}),
        "status-unsigned": (params, {}),
    }
    for case, (data, headers) in cases.items():
        path = sms.path("status") if case.startswith("status") else sms.path()
        resp = sms.client.post(path, data=data, headers=headers)
        assert (resp.status_code, resp.json["error"]) == (403, "forbidden"), case
    assert sms.messages() == []
    assert (
        sms.client.post(sms.path(), data=params, headers={"X-Twilio-Signature": good}).status_code
        == 200
    )


def test_empty_params_are_part_of_the_signature(sms):
    # Twilio signs FromCity="" too; a validator that drops empty fields would reject this.
    assert sms.inbound("Hei", FromCity="", FromZip="").status_code == 200
    assert len(sms.messages()) == 1


def test_request_url_is_used_when_no_public_base_url(app, sms):
    app.config["PUBLIC_BASE_URL"] = None
    params = {"MessageSid": "SM" + "b" * 32, "From": CITIZEN, "To": "+4740000001", "Body": "Hei"}
    assert sms.post(sms.path(), params).status_code == 403  # signed for the public URL
    assert sms.post(sms.path(), params, base="http://localhost").status_code == 200


def test_behind_a_tls_terminating_proxy_the_forwarded_url_validates(base_config, sms):
    params = {"MessageSid": "SM" + "c" * 32, "From": CITIZEN, "To": "+4740000001", "Body": "Hei"}
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "sms.kommune.no"}
    signature = sign("https://sms.kommune.no" + sms.path(), params, sms.token)
    for hops, expected in ((1, 200), (0, 403)):
        proxied = make_app({**base_config, "TRUST_PROXY_HEADERS": hops})
        proxied.extensions["servicetorg.dispatcher"] = RecordingDispatcher(proxied)
        resp = proxied.test_client().post(
            sms.path(), data=params, headers={**forwarded, "X-Twilio-Signature": signature}
        )
        assert resp.status_code == expected, hops
        proxied.extensions["servicetorg.dispatcher"].run_inbound()
    assert [m.provider_message_id for m in sms.messages()] == ["SM" + "c" * 32]


def test_duplicate_delivery_stores_one_message(sms):
    sid = "SM" + "d" * 32
    for _ in range(3):
        assert sms.inbound("Hallo", sid=sid).status_code == 200
    assert len(sms.messages()) == 1


def test_unknown_account_is_404_and_bad_payload_400(sms):
    assert sms.post("/webhooks/twilio/999999/sms", {"Body": "x"}).status_code == 404
    assert sms.inbound("x", sid="not-a-sid").status_code == 400
    assert sms.messages() == []


def test_each_number_routes_to_its_own_team(factory, sms):
    building = factory.team(sms.tenant, "Byggesak")
    health = factory.team(sms.tenant, "Helse")
    a = sms.number("+4740000002", team_id=building.id)
    b = sms.number("+4740000003", team_id=health.id)
    sms.inbound("Søknad om tilbygg", account=a)
    sms.inbound("Time hos helsesykepleier", account=b)
    convs = db.session.scalars(select(Conversation).order_by(Conversation.id)).all()
    assert [(c.channel_account_id, c.team_id) for c in convs] == [
        (a.id, building.id),
        (b.id, health.id),
    ]


def test_stop_blocks_replies_and_start_reenables_them(factory, login, sms):
    sms.inbound("Hei, jeg lurer på noe")
    user = factory.user(sms.tenant, Role.CASEWORKER)
    conv = db.session.scalars(select(Conversation)).one()
    sms.inbound("STOPP")
    login(user)
    resp = sms.client.post(f"/c/{conv.id}/reply", data={"body": "Svar"}, follow_redirects=True)
    page = resp.get_data(as_text=True)
    assert "reservert seg mot SMS" in page  # told why, in Norwegian
    assert [m.body for m in sms.messages()] == ["Hei, jeg lurer på noe", "STOPP"]
    sms.inbound("start")
    sms.client.post(f"/c/{conv.id}/reply", data={"body": "Svar"})
    assert [m.body for m in sms.messages()][-1] == "Svar"


def test_shared_key_signatures_when_twilio_says_so(sms, monkeypatch):
    monkeypatch.setenv("SERVICETORG_TEST_TWILIO_SHARED", "delt-hemmelighet")
    sms.account.secret_refs = {
        **sms.account.secret_refs,
        "webhook_signing_key": "SERVICETORG_TEST_TWILIO_SHARED",
    }
    db.session.commit()
    params = {"MessageSid": "SM" + "f" * 32, "From": CITIZEN, "To": "+4740000001", "Body": "Hei"}
    url = PUBLIC + sms.path()

    def post(secret, algorithm, hash_name):
        headers = {
            "X-Twilio-Webhooks-Signature-Settings": f"key=wh_sk_01,algorithm={algorithm}",
            "X-Twilio-Signature": sign(url, params, secret, hash_name),
        }
        return sms.client.post(sms.path(), data=params, headers=headers).status_code

    assert post(sms.token, "HMAC_SHA256", "sha256") == 403  # the auth token is not the key
    assert post("delt-hemmelighet", "HMAC_MD5", "md5") == 403  # unknown algorithm
    assert sms.messages() == []
    assert post("delt-hemmelighet", "HMAC_SHA256", "sha256") == 200
    sms.client.application.extensions["servicetorg.dispatcher"].run_inbound()
    assert len(sms.messages()) == 1


def test_opt_out_keywords(sms):
    cases = [
        ("Stopp.", {}, True),
        ("STOP", {}, True),
        ("avslutt", {}, True),
        ("Slutt å sende meg dette", {"OptOutType": "STOP"}, True),  # Twilio's own match
        ("Stopp å brøyte foran huset mitt!", {}, False),  # a question, not a keyword
    ]
    for i, (body, extra, opted_out) in enumerate(cases):
        phone = f"+4791000{i:03d}"
        sms.inbound(body, from_=phone, **extra)
        ident = db.session.scalars(
            select(ContactIdentity).where(ContactIdentity.value == phone)
        ).one()
        assert (ident.opted_out_at is not None) is opted_out, body


def test_operator_adds_a_number_from_the_command_line(app, factory, sms):
    team = factory.team(sms.tenant, "Teknisk")
    args = ["sms", "add-number", "--tenant", sms.tenant.slug, "--number", "400 00 009",
            "--account-sid", sms.fake.account_sid, "--token-env", "SERVICETORG_TEST_TWILIO_TOKEN",
            "--team", "Teknisk"]  # fmt: skip
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code == 0, result.output
    acc = db.session.scalars(
        select(ChannelAccount).where(ChannelAccount.external_id == "+4740000009")
    ).one()
    assert f"{PUBLIC}/webhooks/twilio/{acc.id}/sms" in result.output
    assert acc.team_id == team.id
    assert app.test_cli_runner().invoke(args=args).exit_code == 0  # re-running updates
    acc.config = {**acc.config, "api_base_url": sms.fake.url}
    db.session.commit()
    assert sms.inbound("Hei teknisk", account=acc).status_code == 200
    assert sms.messages()[0].conversation.team_id == team.id
