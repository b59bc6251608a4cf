"""Suggestions that a conversation may be archive-worthy, and why."""

from __future__ import annotations

from archiving.suggestions import Suggestion, suggest, suggested_case_number


def reasons(found: list[Suggestion]) -> dict[str, tuple[str, ...]]:
    return {s.reason: s.matches for s in found}


def test_small_talk_is_not_suggested():
    assert suggest({}, ["Når stenger biblioteket i dag?", "Klokka 19."]) == []
    # søk (search) is not søke (apply).
    assert suggest(None, ["Jeg finner ikke søkefeltet, og søket gir ingenting"]) == []


def test_hearing_comment_from_the_web_comments_channel():
    found = suggest({"archive_suggestion": {"reason": "hearing"}}, ["Jeg er imot planen."])
    assert reasons(found) == {"hearing": ()}


def test_case_number_application_complaint_and_decision_show_what_matched():
    found = reasons(
        suggest(
            {},
            [
                "Hei, gjelder saksnr. 2026/1234 og 2025/77.",
                "Jeg vil klage på vedtaket om søknaden min.",
            ],
        )
    )
    assert found["case_number"] == ("2026/1234", "2025/77", "saksnr.")
    assert found["application"] == ("søknaden",)
    assert found["complaint"] == ("klage",)
    assert found["decision"] == ("vedtaket",)


def test_nynorsk_and_case_insensitive():
    found = reasons(suggest({}, ["Eg vil søkje om løyve.", "KLAGA gjeld vedteket."]))
    assert set(found) == {"application", "complaint", "decision"}


def test_dates_and_fractions_are_not_case_numbers():
    assert suggest({}, ["Vi ses 12/5, og 1/2 pris på 2026/12/24"]) == []
    assert suggested_case_number(["Ingen sak her", "Se sak 2026/88."]) == "2026/88"
