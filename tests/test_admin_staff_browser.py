"""The staff and team pages in headless Chromium, by keyboard: an admin adds a person and a
team, puts the person in the team, and the person signs in with the temporary password and
chooses a new one. axe (WCAG 2.1 A/AA) on every page at desktop and phone width."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from inbox.extensions import db
from inbox.models import Membership, Role, Team, TeamMember, User
from tests.browser import DESKTOP, audit, chromium, sign_in_by_keyboard
from tests.factories import PASSWORD
from tests.live import live_server

pytestmark = [pytest.mark.browser]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


def press_enter_on(page: Any, locator: Any) -> None:
    locator.focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")


def test_admin_adds_a_person_and_a_team_by_keyboard(app, factory, browser):
    tenant = factory.tenant(name="Eksempel kommune")
    admin = factory.user(tenant, Role.ADMIN, name="Ada Admin")
    factory.user(tenant, Role.CASEWORKER, name="Kari Saksbehandler")
    with live_server(app) as base:
        page = browser.new_page(viewport=DESKTOP)
        sign_in_by_keyboard(page, base, admin.email, PASSWORD)
        press_enter_on(page, page.get_by_role("link", name="Ansatte og team"))
        page.get_by_role("heading", name="Ansatte og team").wait_for()
        audit(page)

        # Add a person: e-mail, Tab, name, Tab, role (arrow keys), Tab, Enter on the button.
        page.get_by_label("E-postadresse").focus()
        page.keyboard.type("nina@eksempel.no")
        page.keyboard.press("Tab")
        page.keyboard.type("Nina Ny")
        page.keyboard.press("Tab")
        page.keyboard.press("ArrowDown")  # caseworker -> records officer
        assert page.get_by_label("Rolle").input_value() == "records_officer"
        page.keyboard.press("Tab")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        page.get_by_role("heading", name="Midlertidig passord for Nina Ny").wait_for()
        password = page.locator("#temporary-password").inner_text()
        audit(page)
        press_enter_on(page, page.get_by_role("link", name="Tilbake til ansatte og team"))
        page.locator("#staff-list").get_by_text("nina@eksempel.no").wait_for()

        # Create a team: the name, then Enter.
        page.get_by_label("Navn på teamet").focus()
        page.keyboard.type("Byggesak")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        page.get_by_text("Teamet er opprettet.").wait_for()
        page.get_by_role("heading", name="Team Byggesak").wait_for()
        audit(page)

        # Put Nina in the team: typing her name picks her in the list.
        choice = page.get_by_label("Legg til i teamet")
        choice.focus()
        page.keyboard.type("Nina")
        nina_id = db.session.scalar(select(User.id).where(User.email == "nina@eksempel.no"))
        assert choice.input_value() == str(nina_id)
        page.keyboard.press("Tab")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        page.get_by_text("Personen er lagt til i teamet.").wait_for()
        page.locator("#member-list").get_by_text("Nina Ny").wait_for()
        audit(page)

        press_enter_on(page, page.locator("#member-list").get_by_role("link", name="Nina Ny"))
        page.get_by_role("heading", name="Nina Ny").wait_for()
        audit(page)

        # Nina signs in with the temporary password and must choose a new one first.
        context = browser.new_context(viewport=DESKTOP)
        nina_page = context.new_page()
        sign_in_by_keyboard(nina_page, base, "nina@eksempel.no", password)
        nina_page.get_by_text("Du logget inn med et midlertidig passord").wait_for()
        audit(nina_page)
        nina_page.get_by_label("Nåværende passord").focus()
        nina_page.keyboard.type(password)
        nina_page.keyboard.press("Tab")
        nina_page.keyboard.type("et nytt og langt passord")
        nina_page.keyboard.press("Tab")
        nina_page.keyboard.type("et nytt og langt passord")
        with nina_page.expect_navigation():
            nina_page.keyboard.press("Enter")
        nina_page.get_by_text("Passordet ditt er endret.").wait_for()
        nina_page.get_by_role("heading", name="Innboks").wait_for()
        context.close()
        page.close()

    nina = db.session.scalar(select(User).where(User.email == "nina@eksempel.no"))
    team = db.session.scalar(select(Team).where(Team.name == "Byggesak"))
    assert nina.role_in(tenant.id) is Role.RECORDS_OFFICER and not nina.must_change_password
    assert db.session.get(TeamMember, (team.id, nina.id)) is not None


def test_admin_confirms_an_account_of_another_municipality_by_keyboard(app, factory, browser):
    tenant = factory.tenant(name="Eksempel kommune")
    elsewhere = factory.tenant(name="Bortenfor kommune")
    admin = factory.user(tenant, Role.ADMIN, name="Ada Admin")
    rita = factory.user(elsewhere, Role.CASEWORKER, name="Regional Rita")
    with live_server(app) as base:
        page = browser.new_page(viewport=DESKTOP)
        sign_in_by_keyboard(page, base, admin.email, PASSWORD)
        page.goto(f"{base}/admin/staff/")
        page.get_by_label("E-postadresse").focus()
        page.keyboard.type(rita.email)
        page.keyboard.press("Tab")
        page.keyboard.type("Rita")
        page.keyboard.press("Tab")
        page.keyboard.press("Tab")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        page.get_by_role("heading", name=f"{rita.email} har allerede en konto").wait_for()
        page.locator("#other-tenants").get_by_text("Bortenfor kommune").wait_for()
        audit(page)

        # The form is not sent until the box is ticked (Space on the box).
        box = page.get_by_label("Jeg har sjekket at denne kontoen er personen jeg mener")
        assert box.evaluate("el => el.required && !el.form.checkValidity()")
        assert db.session.get(Membership, (rita.id, tenant.id)) is None
        box.focus()
        page.keyboard.press("Space")
        assert box.is_checked()
        page.keyboard.press("Tab")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        page.get_by_text("hadde allerede en konto").wait_for()
        page.get_by_role("heading", name="Regional Rita").wait_for()
        audit(page)
        page.close()

    db.session.expire_all()
    assert rita.role_in(tenant.id) is Role.CASEWORKER
