"""Review rounds are named in the user's language."""

from __future__ import annotations

from app.services.programmes import catalogue


def test_a_round_is_named_in_english_for_english_users(app):
    contest = catalogue()["teacher_contest"]
    final = contest.rounds["city_final"]
    assert (final.label, final.label_en) == ("决赛现场评分", "Final (live presentation)")
    from flask_babel import refresh

    from app.i18n import round_label

    with app.test_request_context("/?lang=en"):
        refresh()  # the locale is cached per app context, which the test shares
        assert round_label(final) == "Final (live presentation)"
    with app.test_request_context("/"):
        refresh()
        assert round_label(final) == "决赛现场评分"
