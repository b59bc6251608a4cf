"""A municipality's logo: uploaded on its profile page, shown in its chat widget.

The upload is never stored or served as sent. Pillow reads it (PNG, JPEG, GIF or WebP only,
bounded in bytes and in pixels before it is decoded, so a decompression bomb is refused
unread), and what is kept is a fresh PNG of at most MAX_SIDE pixels a side: no metadata, no
script, nothing of the original file but its picture.
"""

from __future__ import annotations

import hashlib
import io
import warnings

from PIL import Image, UnidentifiedImageError

from inbox.extensions import db
from inbox.models import Tenant, TenantLogo, User
from inbox.models.base import utcnow
from inbox.services import audit

MAX_BYTES = 512 * 1024
MAX_PIXELS = 4096 * 4096  # refused before decoding
MAX_SIDE = 512  # what is kept
FORMATS = {"PNG", "JPEG", "GIF", "WEBP"}


class LogoError(ValueError):
    """Why an upload is refused: 'empty', 'too_large', 'not_image', 'too_many_pixels'."""


def _picture(data: bytes) -> Image.Image:
    if not data:
        raise LogoError("empty")
    if len(data) > MAX_BYTES:
        raise LogoError("too_large")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            probe = Image.open(io.BytesIO(data))
            if probe.format not in FORMATS:
                raise LogoError("not_image")
            if probe.width * probe.height > MAX_PIXELS:
                raise LogoError("too_many_pixels")
            probe.verify()  # a truncated or corrupt file fails here
            img = Image.open(io.BytesIO(data))
            img.load()
    except LogoError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Warning) as exc:
        raise LogoError("not_image") from exc
    except Image.DecompressionBombError as exc:
        raise LogoError("too_many_pixels") from exc
    return img


def store(tenant: Tenant, data: bytes, actor: User) -> TenantLogo:
    """Check, shrink and re-encode an uploaded logo; replaces the earlier one. The caller
    commits; on LogoError nothing has changed."""
    img = _picture(data)
    img = img.convert("RGBA") if img.mode not in ("RGB", "RGBA") else img
    img.thumbnail((MAX_SIDE, MAX_SIDE))
    out = io.BytesIO()
    img.save(out, format="PNG", optimize=True)
    png = out.getvalue()
    logo = db.session.get(TenantLogo, tenant.id)
    if logo is None:
        logo = TenantLogo(tenant_id=tenant.id)
        db.session.add(logo)
    logo.png, logo.width, logo.height = png, img.width, img.height
    logo.sha256 = hashlib.sha256(png).hexdigest()
    logo.changed_at = utcnow()
    audit.record(
        "tenant.logo", tenant, tenant_id=tenant.id, actor=actor, width=img.width, height=img.height
    )
    return logo


def remove(tenant: Tenant, actor: User) -> bool:
    logo = db.session.get(TenantLogo, tenant.id)
    if logo is None:
        return False
    db.session.delete(logo)
    audit.record("tenant.logo_removed", tenant, tenant_id=tenant.id, actor=actor)
    return True


def of(tenant_id: int) -> TenantLogo | None:
    return db.session.get(TenantLogo, tenant_id)
