"""What staff see of Facebook comments in the browser: the edit history, a removed comment,
the link to the post and the admin banner for an expired token, with no WCAG 2.1 A/AA issues."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from channels.meta.graph import token_fingerprint
from inbox.extensions import db
from inbox.models import ChannelAccount, Conversation, Role
from tests.browser import audit, chromium
from tests.factories import PASSWORD
from tests.fakes.facebook import FakeGraph, Page, comment_value, feed_entry
from tests.live import live_server

pytestmark = pytest.mark.browser
PAGE = "104857600333444"
POST = f"{PAGE}_42"


def test_comment_history_and_token_alert_in_the_browser(app, client, factory, monkeypatch):
    with FakeGraph(token="b-token", app_secret="b-secret") as fake:
        page = Page(factory, factory.tenant(), fake, monkeypatch, PAGE)
        c1, c2 = f"{POST}_1", f"{POST}_2"
        for value in (
            comment_value("add", POST, c1, "Søppelbilen kom ikke i dag"),
            comment_value("add", POST, c2, "Her heller ikke", sender=("77", "Ola")),
            comment_value("edited", POST, c1, "Søppelbilen kom ikke i går"),
            comment_value("remove", POST, c2),
        ):
            assert page.deliver(client, [feed_entry(PAGE, value)]).status_code == 200
        account = db.session.get(ChannelAccount, page.comments.id)
        account.alert = "Facebook avviste tilgangsnøkkelen for siden."
        account.poll_cursor = {"alert_token": token_fingerprint(fake.token)}
        db.session.commit()
        conv = db.session.scalars(select(Conversation)).one()
        admin = factory.user(page.tenant, Role.ADMIN)

        with chromium() as browser, live_server(app) as base:
            staff = browser.new_page()
            staff.goto(f"{base}/login")
            staff.get_by_label("E-postadresse").fill(admin.email)
            staff.get_by_label("Passord").fill(PASSWORD)
            staff.get_by_role("button", name="Logg inn").click()
            staff.get_by_role("heading", name="Kanaler som trenger oppfølging").wait_for()
            staff.goto(f"{base}/c/{conv.id}")
            thread = staff.locator("#thread")  # not the queue beside it
            thread.get_by_text("Søppelbilen kom ikke i går").wait_for()
            thread.get_by_text("Redigert", exact=False).click()
            thread.get_by_text("Søppelbilen kom ikke i dag").wait_for()
            thread.get_by_text("Fjernet av forfatteren", exact=False).wait_for()
            assert thread.get_by_text("Her heller ikke").is_visible()
            link = staff.get_by_role("link", name="Åpne innlegget på Facebook")
            assert link.get_attribute("href") == f"https://www.facebook.com/{POST}"
            # The banner stays until the token is replaced; the reply box says why it is stuck.
            assert staff.get_by_role("alert").first.is_visible()
            assert staff.locator("#reply-blocked").is_visible()
            audit(staff)
