"""Staff single sign-on in headless Chromium against a local OpenID provider: the sign-in
page's button, the provider, and back signed in; the refusal page and the admin page have no
axe-core (WCAG 2.1 A/AA) violations at 1280 and 390 px."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from inbox.models import Role
from inbox.services import oidc
from tests.browser import audit, chromium, sign_in_by_keyboard
from tests.factories import PASSWORD
from tests.fakes.oidc import FakeOidcProvider
from tests.live import live_server
from tests.test_sso import configure

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    with chromium() as b:
        yield b


@pytest.fixture
def idp() -> Iterator[FakeOidcProvider]:
    oidc.clear_caches()
    with FakeOidcProvider() as provider:
        yield provider
    oidc.clear_caches()


def test_staff_sign_in_with_single_sign_on(app, browser, factory, idp):  # type: ignore[no-untyped-def]
    tenant = factory.tenant(name="Demo kommune")
    configure(tenant, idp)
    with live_server(app) as base:
        page = browser.new_page()
        page.goto(f"{base}/login")
        audit(page)
        page.get_by_role("link", name="Logg inn som ansatt i Demo kommune").click()
        page.wait_for_url(f"{base}/")
        assert page.get_by_role("button", name="Logg ut").count() == 1

        # Someone in no mapped group gets a page that says why.
        idp.user = {**idp.user, "sub": "user-2", "email": "per@kommune.test", "groups": []}
        other = browser.new_page()
        other.goto(f"{base}/login/sso/{tenant.slug}")
        other.get_by_role("heading", name="Innlogging avvist").wait_for()
        assert "gruppe" in other.inner_text("#sso-reason")
        audit(other)


def test_the_admin_page_is_accessible(app, browser, factory, idp):  # type: ignore[no-untyped-def]
    tenant = factory.tenant(name="Demo kommune")
    configure(tenant, idp)
    admin = factory.user(tenant, Role.ADMIN)
    with live_server(app) as base:
        page = browser.new_page()
        sign_in_by_keyboard(page, base, admin.email, PASSWORD)
        page.goto(f"{base}/admin/sso/")
        page.get_by_label("Utsteder-URL").wait_for()
        audit(page)
        page.get_by_label("Klienthemmelighet").fill("nytt-hemmelig")
        page.get_by_role("button", name="Lagre").click()
        page.get_by_text("Innstillingene for felles innlogging er lagret.").wait_for()
