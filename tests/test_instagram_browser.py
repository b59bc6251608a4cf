"""What staff see of Instagram in the browser: the Instagram badge in the queue and the thread,
a comment removed on Instagram with its text kept, the link to the post, and a direct message
the window no longer allows an answer to, with no WCAG 2.1 A/AA issues at any width."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from channels.registry import get_connector
from inbox.extensions import db
from inbox.models import ChannelAccount, Conversation, Role
from tests.browser import audit, chromium
from tests.factories import PASSWORD
from tests.fakes.instagram import FakeInstagramGraph, InstagramAccount, dm_entry, dm_event
from tests.live import live_server

pytestmark = pytest.mark.browser
IG = "17841400000000505"
PAGE = "104857600700505"
KARI = "17841455500000021"


def test_instagram_in_the_queue_and_thread(app, client, factory, monkeypatch):
    with FakeInstagramGraph(token="b-ig-token", app_secret="b-ig-secret") as fake:
        account = InstagramAccount(factory, factory.tenant(), fake, monkeypatch, IG, PAGE)
        now = time.time()
        media = fake.add_media(IG, "17895695668000505", "Ny bussrute", now - 3600)
        fake.add_comment(media, "17870000000005001", "Stopper den ved skolen?", KARI, "kari", now)
        fake.add_comment(media, "17870000000005002", "Fjernes snart", "1784145550002", "ola", now)
        poll = get_connector(account.comments.kind).poll
        poll(db.session.get(ChannelAccount, account.comments.id))
        db.session.commit()
        media["comments"].pop()  # removed on Instagram
        poll(db.session.get(ChannelAccount, account.comments.id))
        db.session.commit()
        ts = int((now - 8 * 86400) * 1000)
        account.deliver(client, [dm_entry(IG, dm_event(IG, KARI, "aWdf_old", "Hallo?", ts))])
        comments = db.session.scalars(
            select(Conversation).where(Conversation.thread_key == media["id"])
        ).one()
        dms = db.session.scalars(
            select(Conversation).where(Conversation.channel_account_id == account.dms.id)
        ).one()
        user = factory.user(account.tenant, Role.CASEWORKER)

        with chromium() as browser, live_server(app) as base:
            staff = browser.new_page()
            staff.goto(f"{base}/login")
            staff.get_by_label("E-postadresse").fill(user.email)
            staff.get_by_label("Passord").fill(PASSWORD)
            staff.get_by_role("button", name="Logg inn").click()
            staff.wait_for_url(f"{base}/")
            assert staff.locator(".queue .channel-badge--instagram").count() == 2
            audit(staff)

            staff.goto(f"{base}/c/{comments.id}")
            assert staff.locator("#conv-meta .channel-badge--instagram").inner_text() == "Instagram"
            staff.get_by_text("Fjernet av forfatteren", exact=False).wait_for()
            assert staff.locator("#thread").get_by_text("Fjernes snart").is_visible()
            link = staff.get_by_role("link", name="Åpne innlegget på Instagram")
            assert link.get_attribute("href") == media["permalink"]
            audit(staff)

            staff.goto(f"{base}/c/{dms.id}")
            blocked = staff.locator("#reply-blocked")
            assert blocked.is_visible() and "7 dager" in blocked.inner_text()
            audit(staff)
