"""The interface speaks bokmål by default and nynorsk or English when chosen: every text the
code and templates ask to have translated has a bokmål and a nynorsk translation, with the
same placeholders, and error pages speak the user's language too."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir

from archiving.models import ArchiveState
from inbox.i18n import merged_catalogue
from inbox.models import ChannelKind, ConversationStatus, DeliveryStatus, IdentityKind, Role
from inbox.services.queue import Sort

ROOT = Path(__file__).resolve().parent.parent
LANGUAGES = ("nb", "nn")
KEYWORDS = {
    "_": None,
    "gettext": None,
    "ngettext": (1, 2),
    "lazy_gettext": None,
    "_l": None,
    "lazy_ngettext": (1, 2),
    "_nl": (1, 2),
}
SOURCES = {
    "inbox": [("**.py", "python")],
    "channels": [("**.py", "python")],
    "archiving": [("**.py", "python")],
    "workers": [("**.py", "python")],
    "templates": [("**.html", "jinja2")],
}
# Enum values that pages translate at run time (`_(conv.status.value)` and the like), which no
# extractor can see.
RUNTIME_IDS = [
    *(s.value for s in ConversationStatus),
    *(c.value for c in ChannelKind),
    *(i.value for i in IdentityKind),
    *(d.value for d in DeliveryStatus),
    *(a.value for a in ArchiveState),
    *(f"sort:{s.value}" for s in Sort),
]


@cache
def used_ids() -> dict[str, str]:
    """Every message id in the code and templates, with where it is first used."""
    ids: dict[str, str] = {}
    for folder, method_map in SOURCES.items():
        found = extract_from_dir(
            ROOT / folder,
            method_map=method_map,
            options_map={"**.html": {"extensions": "jinja2.ext.i18n"}},
            keywords=KEYWORDS,
        )
        for filename, lineno, message, _comments, _context in found:
            msgid = message if isinstance(message, str) else message[0]
            ids.setdefault(msgid, f"{folder}/{filename}:{lineno}")
    for msgid in RUNTIME_IDS:
        ids.setdefault(msgid, "(an enum value shown on a page)")
    return ids


@cache
def catalogue(lang: str) -> Catalog:
    """The language's fragments merged, as the app compiles them."""
    return merged_catalogue(ROOT / "translations" / lang)


def translated(lang: str, msgid: str) -> bool:
    msg = catalogue(lang).get(msgid)
    if msg is None:
        return False
    strings = msg.string if isinstance(msg.string, tuple | list) else (msg.string,)
    return all(strings) and not msg.fuzzy


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_text_of_the_interface_is_translated(lang: str) -> None:
    assert len(used_ids()) > 100, "the extractor found (almost) no texts"
    missing = [
        f"{where}: {msgid!r}" for msgid, where in used_ids().items() if not translated(lang, msgid)
    ]
    assert missing == [], f"{len(missing)} texts without a {lang} translation:\n" + "\n".join(
        missing
    )


@pytest.mark.parametrize("lang", LANGUAGES)
def test_translations_keep_their_placeholders(lang: str) -> None:
    """A translation that drops or misspells %(name)s would fail when the page is rendered."""
    problems = [
        f"{msg.id!r}: {'; '.join(str(e) for e in errors)}"
        for msg, errors in catalogue(lang).check()
    ]
    assert problems == []


@pytest.mark.parametrize(
    ("lang", "title", "text"),
    [
        ("nb", "Fant ikke siden", "Siden finnes ikke, eller du har ikke tilgang"),
        ("nn", "Fann ikkje sida", "Sida finst ikkje, eller du har ikkje tilgang"),
        ("en", "Not found", "The page does not exist, or you do not have access"),
    ],
)
def test_error_pages_speak_the_users_language(client, login, factory, lang, title, text) -> None:  # type: ignore[no-untyped-def]
    user = factory.user(factory.tenant(), Role.CASEWORKER)
    login(user)
    client.post("/language", data={"lang": lang})
    resp = client.get("/c/987654")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 404
    assert f"<h1>{title}</h1>" in page and text in page
    assert "requested URL was not found" not in page  # Werkzeug's developer text
