"""SMS alerts in headless Chromium: write with a live segment count, preview what will be sent
and what was wrong in the file, ask a second person, who confirms; then follow the progress.
axe (WCAG 2.1 A/AA) at desktop and phone width on every page."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

import channels.sms_alerts.tasks  # noqa: F401
from inbox.extensions import db
from inbox.models import Alert, AlertState
from tests.alerts_support import author, numbers
from tests.browser import DESKTOP, audit, chromium, sign_in_by_keyboard
from tests.factories import PASSWORD
from tests.live import live_server
from tests.sms_support import sms_setup

pytestmark = [pytest.mark.browser]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


def test_write_preview_confirm_by_a_second_person_and_follow(
    app, factory, monkeypatch, browser, tasks, tmp_path
):
    app.config.update(ALERT_RATE_PER_SECOND=1000, ALERT_CONFIRM_ABOVE=5)
    with sms_setup(app, factory, monkeypatch) as sms, live_server(app) as base:
        first, second = author(sms), author(sms)
        factory.team(sms.tenant, "Vann og avløp")
        rows = ["Navn;Telefon;Adresse"] + [
            f"Innbygger {i};{p};Kvernhusvegen {i}" for i, p in enumerate(numbers(7))
        ]
        rows += ["", "Ola;hallo;", "Kari;01234567;", f"Dobbel;+47{numbers(1)[0]};"]
        csv_file = tmp_path / "mottakere.csv"
        csv_file.write_bytes("\r\n".join(rows).encode("cp1252"))

        page = browser.new_page(viewport=DESKTOP)
        sign_in_by_keyboard(page, base, first.email, PASSWORD)
        link = page.get_by_role("link", name="SMS-varsler")
        link.focus()
        with page.expect_navigation():
            page.keyboard.press("Enter")
        page.get_by_role("heading", name="SMS-varsler", level=1).wait_for()
        audit(page)
        with page.expect_navigation():
            page.get_by_role("link", name="Skriv et varsel").click()
        audit(page)

        page.get_by_label("Tittel").fill("Vannbrudd Kvernhusvegen")
        body = page.get_by_label("Teksten i SMS-en")
        body.focus()
        page.keyboard.type(
            "Vannet er stengt i Kvernhusvegen til kl. 14. Spørsmål? Svar på denne meldingen. "
            "Hilsen Øystre kommune"
        )
        assert page.locator("#count-encoding").inner_text() == "GSM-7"  # æøå are GSM-7
        assert page.locator("#count-segments").inner_text() == "1"
        page.keyboard.type(" 💧")
        assert page.locator("#count-encoding").inner_text() == "UCS-2"
        assert page.locator("#count-segments").inner_text() == "2"  # 70 per SMS in UCS-2
        page.keyboard.press("Backspace")
        page.keyboard.press("Backspace")
        page.keyboard.press("Backspace")
        page.get_by_label("Svar går til team").select_option(label="Vann og avløp")
        page.get_by_label("CSV-fil", exact=True).set_input_files(str(csv_file))
        with page.expect_navigation():
            page.get_by_role("button", name="Forhåndsvis").click()

        page.get_by_role("heading", name="3 rader ble ikke brukt").wait_for()
        table = page.locator("#rejected").inner_text()
        assert "hallo" in table and "ikke et telefonnummer" in table
        assert "begynner ikke med 0 eller 1" in table and "rad 2" in table
        assert page.locator("#est-recipients").inner_text() == "7"
        assert "NOK" in page.locator("#est-cost").inner_text()
        audit(page)
        ask = page.get_by_role("button", name="Be om bekreftelse")
        ask.focus()
        with page.expect_navigation():
            page.keyboard.press("Enter")
        page.locator("#waiting-second").wait_for()
        alert_url = page.url
        audit(page)
        page.close()

        other = browser.new_context(viewport=DESKTOP).new_page()
        sign_in_by_keyboard(other, base, second.email, PASSWORD)
        other.goto(alert_url)
        confirm = other.get_by_role("button", name="Bekreft og send")
        confirm.focus()
        with other.expect_navigation():
            other.keyboard.press("Enter")
        other.get_by_role("heading", name="Framdrift").wait_for()
        audit(other)
        tasks.run_all()  # the worker sends it
        other.locator("#p-sent", has_text="7").wait_for(timeout=15000)
        other.locator("#alert-state", has_text="Sendt").wait_for(timeout=15000)
        assert other.locator("#p-queued").inner_text() == "0"
        audit(other)
        other.close()

    db.session.expire_all()
    alert = db.session.scalars(select(Alert)).one()
    assert alert.state is AlertState.DONE and alert.approved_by_id == second.id
    assert len(sms.fake.sent()) == 7
