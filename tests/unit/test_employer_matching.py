"""Matching with a small fixed data set: the expected opening ranks first, and the
explanation names the preferences that matched."""

from __future__ import annotations

import pytest

from services.employer.matching import (
    OpeningFacts,
    Profile,
    Reason,
    explanation,
    fit,
    mentions,
    normalise,
    rank_clients,
    rank_openings,
)

AINO = "client-aino"
OLLI = "client-olli"
PEKKA = "client-pekka"

KITCHEN = OpeningFacts(
    id="kitchen",
    title="Keittiöapulainen",
    industry="56101",
    municipality="Kotka",
    hours_min=20,
    hours_max=30,
    keywords=("keittiö", "salaatit"),
    employer_name="Ravintola Kotikulma",
)
WAREHOUSE = OpeningFacts(
    id="warehouse",
    title="Varastotyöntekijä",
    industry="52101",
    municipality="Hamina",
    hours_min=37.5,
    hours_max=37.5,
    keywords=("trukki",),
    employer_name="Kymen Logistiikka",
)
CLEANING = OpeningFacts(
    id="cleaning",
    title="Siivooja",
    industry="81210",
    municipality="Kotka",
    hours_min=20,
    hours_max=20,
    employer_name="Puhdas Oy",
)
BAKERY = OpeningFacts(
    id="bakery",
    title="Leipomoapulainen",
    industry="10710",
    municipality="Kouvola",
    hours_min=35,
    hours_max=40,
    employer_name="Kouvolan Leipä",
)
CARVED_FOR_OLLI = OpeningFacts(
    id="carved-olli",
    title="Salaattien kokoaja",
    industry="56101",
    municipality="Kotka",
    tasks=("Salaattien kokoaminen", "Astioiden keräys"),
    employer_name="Ravintola Kotikulma",
    for_client_id=OLLI,
)
OPENINGS = [WAREHOUSE, CLEANING, BAKERY, CARVED_FOR_OLLI, KITCHEN]

AINO_PROFILE = Profile(
    fields=("I", "siivous"),
    hours_min=15,
    hours_max=25,
    areas=("Kotka",),
    interests=("keittiö", "leipominen", "leipomo"),
)


def test_the_expected_opening_ranks_first_with_its_reasons() -> None:
    ranked = rank_openings(AINO_PROFILE, OPENINGS, AINO)
    assert [s.target_id for s in ranked] == ["kitchen", "cleaning", "bakery"]
    best = ranked[0]
    codes = [r.code for r in best.reasons]
    assert codes == ["field_industry", "area", "hours", "interest"]
    assert Reason("field_industry", "I", "56101") in best.reasons
    assert Reason("area", "Kotka", "Kotka") in best.reasons
    assert Reason("hours", "15–25", "20–30") in best.reasons
    assert Reason("interest", "keittiö", "Keittiöapulainen") in best.reasons
    assert best.score == 4 + 3 + 2 + 1 and not best.concerns
    text = explanation(best)
    for named in ("I", "56101", "Kotka", "15–25", "keittiö"):
        assert named in text, text


def test_concerns_are_named_without_hiding_the_suggestion() -> None:
    ranked = {s.target_id: s for s in rank_openings(AINO_PROFILE, OPENINGS, AINO)}
    bakery = ranked["bakery"]
    assert [r.code for r in bakery.reasons] == ["interest"]  # "leipomo" in Leipomoapulainen
    assert {c.code for c in bakery.concerns} == {"hours_outside", "area_elsewhere"}
    assert "outside the preferred 15–25" in explanation(bakery) and "Kouvola" in explanation(bakery)
    assert "warehouse" not in ranked  # nothing fits: not suggested


def test_an_opening_carved_for_one_client_is_for_that_client_only() -> None:
    assert "carved-olli" not in {s.target_id for s in rank_openings(AINO_PROFILE, OPENINGS, AINO)}
    olli = Profile(fields=("siivous",))
    ranked = rank_openings(olli, OPENINGS, OLLI)
    assert ranked[0].target_id == "carved-olli"
    assert ranked[0].reasons[0] == Reason("tailored")


def test_clients_for_an_opening_are_ranked_and_explained() -> None:
    profiles = {
        PEKKA: Profile(interests=("ravintola",)),  # the employer's name mentions it
        AINO: AINO_PROFILE,
        OLLI: Profile(fields=("H",), areas=("Hamina",)),  # nothing fits the kitchen
    }
    ranked = rank_clients(KITCHEN, profiles)
    assert [s.target_id for s in ranked] == [AINO, PEKKA]
    assert ranked[1].reasons == (Reason("interest", "ravintola", "Keittiöapulainen"),)


def test_field_keywords_and_prefix_codes() -> None:
    profile = Profile(fields=("56", "varasto"))
    ranked = rank_openings(profile, [KITCHEN, WAREHOUSE, CLEANING], "x")
    assert [s.target_id for s in ranked] == ["kitchen", "warehouse"]  # same score: by title
    by_id = {s.target_id: s for s in ranked}
    assert by_id["kitchen"].reasons == (Reason("field_industry", "56", "56101"),)
    assert by_id["warehouse"].reasons == (Reason("field_keyword", "varasto", "Varastotyöntekijä"),)


def test_ties_are_ordered_by_title_then_id() -> None:
    a = OpeningFacts(id="2", title="B työ", municipality="Kotka")
    b = OpeningFacts(id="1", title="A työ", municipality="Kotka")
    ranked = rank_openings(Profile(areas=("kotka",)), [a, b], "x")
    assert [s.target_id for s in ranked] == ["1", "2"]


def test_an_empty_profile_matches_nothing() -> None:
    assert Profile().is_empty
    assert rank_openings(Profile(), OPENINGS, AINO) == []
    assert fit(Profile(hours_min=10), OpeningFacts(id="x", title="X"), AINO) is None


@pytest.mark.parametrize(
    ("text", "word", "found"),
    [
        ("keittiöapulainen", "apulainen", True),
        ("ravintolassa töitä", "ravintola", True),
        ("KEITTIÖ", "keittiö", False),  # the text is normalised by the caller
        (normalise("KEITTIÖ"), "Keittiö", True),
        ("it-tuki", "it", True),
        ("kitchen", "it", False),  # short words must be whole words
        ("anything", " ", False),
    ],
)
def test_mentions(text: str, word: str, found: bool) -> None:
    assert mentions(text, word) is found
