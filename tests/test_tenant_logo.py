"""A municipality's logo: uploaded on the profile page, re-encoded, shown in its chat widget;
anything that is not a picture we can read is refused with a clear message and nothing stored."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from sqlalchemy import func, select

from inbox.extensions import db
from inbox.models import AuditEntry, ChannelKind, Role, TenantLogo
from tests.factories import PASSWORD


def picture(fmt: str = "PNG", size: tuple[int, int] = (800, 400), **save: object) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (0, 80, 158)).save(out, format=fmt, **save)
    return out.getvalue()


def sign_in(client, user):  # type: ignore[no-untyped-def]
    from flask import g

    g.pop("_login_user", None)
    assert (
        client.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 302
    )


@pytest.fixture(autouse=True)
def english(app, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setitem(app.config, "DEFAULT_LOCALE", "en")


def upload(client, tenant_id: int, data: bytes, name: str = "logo.png"):  # type: ignore[no-untyped-def]
    return client.post(
        f"/admin/municipality/{tenant_id}/logo",
        data={"logo": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def test_a_logo_is_shrunk_re_encoded_and_shown_in_the_chat_widget(app, client, factory):
    tenant = factory.tenant()
    admin = factory.user(tenant, Role.ADMIN)
    chat = factory.channel(tenant, ChannelKind.WEBCHAT)
    sign_in(client, admin)
    # A JPEG with a comment in it: what is kept is a PNG of at most 512 px, nothing else.
    resp = upload(client, tenant.id, picture("JPEG", (1024, 512), comment=b"<script>x</script>"))
    assert resp.status_code == 303
    served = client.get(f"/logo/{tenant.slug}.png")
    assert served.status_code == 200 and served.mimetype == "image/png"
    img = Image.open(io.BytesIO(served.data))
    assert (img.format, img.size) == ("PNG", (512, 256))
    assert b"<script>" not in served.data
    assert (
        client.get(
            f"/logo/{tenant.slug}.png", headers={"If-None-Match": served.headers["ETag"]}
        ).status_code
        == 304
    )
    page = client.get(f"/admin/municipality/{tenant.id}/profile").get_data(as_text=True)
    assert f'src="/logo/{tenant.slug}.png' in page and f"The logo of {tenant.name}" in page
    frame = client.get(f"/chat/{chat.external_id}").get_data(as_text=True)
    assert f'src="/logo/{tenant.slug}.png' in frame
    assert (
        db.session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "tenant.logo")
        )
        == 1
    )

    assert (
        client.post(f"/admin/municipality/{tenant.id}/logo", data={"remove": "1"}).status_code
        == 303
    )
    assert client.get(f"/logo/{tenant.slug}.png").status_code == 404
    assert 'class="chat__logo"' not in client.get(f"/chat/{chat.external_id}").get_data(
        as_text=True
    )


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"", "empty.png", "Choose a picture file"),
        (
            b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>",
            "logo.svg",
            "not a picture we can read",
        ),
        (b"%PDF-1.7 not a picture", "logo.png", "not a picture we can read"),
        (picture("PNG")[:200], "truncated.png", "not a picture we can read"),
        (picture("BMP", (10, 10)), "logo.bmp", "not a picture we can read"),
        (b"\x89PNG" + b"\0" * (600 * 1024), "huge.png", "larger than 512 kB"),
        (picture("PNG", (5000, 5000), optimize=True), "bomb.png", "at most 4096"),
    ],
)
def test_what_is_not_a_readable_picture_is_refused_and_nothing_stored(
    app, client, factory, data, name, message
):  # type: ignore[no-untyped-def]
    tenant = factory.tenant()
    sign_in(client, factory.user(tenant, Role.ADMIN))
    resp = upload(client, tenant.id, data, name)
    assert resp.status_code == 400
    assert message in resp.get_data(as_text=True)
    assert 'aria-invalid="true" aria-describedby="logo-error"' in resp.get_data(as_text=True)
    assert db.session.get(TenantLogo, tenant.id) is None
    assert client.get(f"/logo/{tenant.slug}.png").status_code == 404


def test_only_the_municipalitys_own_admin_sets_its_logo(app, client, factory):
    a, b = factory.tenant(), factory.tenant()
    sign_in(client, factory.user(b, Role.ADMIN))
    assert upload(client, a.id, picture()).status_code == 404
    sign_in(client, factory.user(a, Role.CASEWORKER))
    assert upload(client, a.id, picture()).status_code == 403
    assert db.session.get(TenantLogo, a.id) is None
