"""Languages: bokmål by default, nynorsk and English selectable.

Each area keeps its own catalogue fragment (translations/<lang>/<area>.po) so they can be
edited independently; they are merged and compiled into one messages.mo per language.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, current_app, request, session
from flask_login import current_user

from inbox import ROOT

SOURCE = ROOT / "translations"


def compile_catalogues(app: Flask) -> Path:
    """Compile translations/<lang>/*.po into <instance>/translations when they changed."""
    out = Path(app.instance_path) / "translations"
    for lang_dir in sorted(p for p in SOURCE.iterdir() if p.is_dir()) if SOURCE.is_dir() else []:
        sources = sorted(lang_dir.glob("*.po"))
        if not sources:
            continue
        target = out / lang_dir.name / "LC_MESSAGES" / "messages.mo"
        newest = max(p.stat().st_mtime for p in sources)
        if target.exists() and target.stat().st_mtime >= newest:
            continue
        merged = merged_catalogue(lang_dir)
        target.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename, so several processes starting at once never read half a file.
        fd, tmp = tempfile.mkstemp(dir=target.parent)
        with os.fdopen(fd, "wb") as fh:
            write_mo(fh, merged, use_fuzzy=False)
        os.replace(tmp, target)
    return out


def merged_catalogue(lang_dir: Path) -> Catalog:
    """The translated messages of one language's fragments (translations/<lang>/*.po)."""
    merged = Catalog(locale=lang_dir.name.replace("-", "_"))
    for po in sorted(lang_dir.glob("*.po")):
        with po.open("rb") as fh:
            for msg in read_po(fh, locale=lang_dir.name):
                if msg.id and msg.string:
                    merged[msg.id] = msg
    return merged


def select_locale() -> str:
    languages = current_app.config["LANGUAGES"]
    chosen = request.args.get("lang")
    if chosen in languages:
        session["lang"] = chosen
        return chosen
    if session.get("lang") in languages:
        return session["lang"]
    if current_user and current_user.is_authenticated and current_user.locale in languages:
        return current_user.locale
    return current_app.config["DEFAULT_LOCALE"]
