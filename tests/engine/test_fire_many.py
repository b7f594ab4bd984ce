"""Moving many entries at once: the same checks, records and messages as one by one, in a
constant number of statements."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import event, select, update

from app.engine.runtime import batchable, fire, fire_many
from app.extensions import db
from app.models import Application, AuditEntry, Notification, User
from app.models.base import utcnow
from app.services import bulk
from app.services.calls import open_call
from app.services.programmes import current_programme
from app.services.reviews import assign_expert, declare_conflict, save_review

APPLICANTS = ("wj1", "wj2", "wj3", "tn1", "tn2", "tn3")
SCORES = {"organisation": 18, "resources": 13, "activities": 30, "impact": 27}


def in_review(world: dict[str, Any], make_application: Any, count: int,
              unscored: int = 0) -> list[Application]:
    """`count` entries in city review, each scored by expert1 except the last `unscored`."""
    users = world["users"]
    now = utcnow()
    call = open_call("excellent_team", "全省优秀团队遴选", 2026, now - timedelta(days=1),
                     now + timedelta(days=30), {"WJ": count, "TN": count}, users["city"])
    world["call"] = call
    entries = []
    for n in range(count):
        applicant = APPLICANTS[n % len(APPLICANTS)]
        entry = make_application(applicant, f"团队{n + 1}")
        fire(entry, "submit", users[applicant])
        admin = users["wj_admin"] if applicant.startswith("wj") else users["tn_admin"]
        fire(entry, "recommend", admin, data={"rank": n + 1, "opinion": "推荐"})
        sheet = assign_expert(entry, users["expert1"], users["city"])
        if n < count - unscored:
            declare_conflict(sheet, users["expert1"], conflict=False)
            save_review(sheet, users["expert1"], SCORES, "扎实", submit=True)
        entries.append(entry)
    db.session.commit()
    return entries


def test_entries_move_together_as_they_would_one_by_one(world, make_application):
    entries = in_review(world, make_application, 4, unscored=1)
    city = world["users"]["city"]
    single = entries[0]
    fire(single, "publish_notice", city)
    db.session.commit()
    found = fire_many(entries[1:], "publish_notice", city, bulk_id="b-1")
    db.session.commit()

    assert found[entries[1].id] == [] and found[entries[2].id] == []
    assert found[entries[3].id] == ["尚有 1 位专家未提交评分（已提交 0 份）"]
    states = dict(db.session.execute(select(Application.id, Application.state)).all())
    assert [states[e.id] for e in entries] == ["notice", "notice", "notice", "city_review"]
    moves = {a.application_id: a for a in db.session.scalars(
        select(AuditEntry).where(AuditEntry.trigger == "publish_notice"))}
    assert set(moves) == {entries[0].id, entries[1].id, entries[2].id}

    def record(entry: AuditEntry) -> tuple[Any, ...]:
        return (entry.actor_id, entry.from_state, entry.to_state, entry.comment, entry.data,
                entry.definition_version)

    assert record(moves[entries[1].id]) == record(moves[single.id])
    assert moves[entries[1].id].bulk_id == moves[entries[2].id].bulk_id == "b-1"
    told = {(n.user_id, n.application_id, n.event) for n in db.session.scalars(
        select(Notification).where(Notification.event == "result_published"))}
    assert told == {(e.applicant_id, e.id, "result_published") for e in entries[:3]}


def test_the_statements_do_not_grow_with_the_entries(world, make_application, app):
    entries = in_review(world, make_application, 14)
    city = world["users"]["city"]
    counts = []
    for chunk in (entries[:3], entries[3:]):
        ids = [e.id for e in chunk]
        db.session.expire_all()
        loaded = list(db.session.scalars(select(Application).where(Application.id.in_(ids))))
        statements: list[str] = []

        def count(*args: Any, seen: list[str] = statements) -> None:
            seen.append(args[2])

        event.listen(db.engine, "before_cursor_execute", count)
        try:
            found = fire_many(loaded, "publish_notice", city, bulk_id="b")
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        assert not any(found.values())
        db.session.commit()
        counts.append(len(statements))
    assert counts[0] == counts[1], (counts, statements)


def test_an_entry_changed_meanwhile_is_reported_and_not_moved(world, make_application):
    entries = in_review(world, make_application, 3)
    loaded = list(db.session.scalars(select(Application).where(
        Application.id.in_([e.id for e in entries])).order_by(Application.id)))
    # someone else saves the second entry after it was read (its version moves on)
    with db.engine.begin() as other:
        other.execute(update(Application).where(Application.id == loaded[1].id).values(
            version=Application.version + 1))
    found = fire_many(loaded, "publish_notice", world["users"]["city"], bulk_id="b")
    db.session.commit()
    assert found[loaded[1].id] == ["该申报的状态已被他人改变，请刷新后重试"]
    states = dict(db.session.execute(select(Application.id, Application.state)).all())
    assert [states[e.id] for e in entries] == ["notice", "city_review", "notice"]
    assert db.session.scalar(select(AuditEntry.id).where(
        AuditEntry.application_id == entries[1].id,
        AuditEntry.trigger == "publish_notice")) is None


def test_steps_whose_guards_count_other_entries_are_not_batchable(app):
    team = current_programme("excellent_team")
    contest = current_programme("teacher_contest")
    assert batchable(team.transition("publish_notice", "city_review"))
    assert batchable(team.transition("name_team", "notice"))
    assert not batchable(team.transition("recommend", "district_review"))  # a form, a quota
    assert not batchable(contest.transition("submit", "draft"))  # one entry per applicant


def test_bulk_moves_chunk_by_chunk_under_one_bulk_id(world, make_application, monkeypatch):
    entries = in_review(world, make_application, 5, unscored=1)
    monkeypatch.setattr(bulk, "CHUNK", 2)
    city = db.session.get(User, world["users"]["city"].id)
    result = bulk.bulk_fire([e.id for e in reversed(entries)] + [999_999], "publish_notice",
                            city, dry_run=False)
    assert [i.application_id for i in result.items] == [e.id for e in reversed(entries)] \
        + [999_999]
    assert [i.ok for i in result.items] == [False, True, True, True, True, False]
    assert [i.state for i in result.items[1:5]] == ["notice"] * 4
    assert result.items[-1].reasons == ["申报不存在"]
    bulk_ids = set(db.session.scalars(select(AuditEntry.bulk_id).where(
        AuditEntry.trigger == "publish_notice")))
    assert bulk_ids == {result.bulk_id}


def test_each_mail_of_a_bulk_move_belongs_to_its_message(world, make_application):
    from app.models import OutboxMessage

    entries = in_review(world, make_application, 6)
    for name in APPLICANTS:
        world["users"][name].email = f"{name}@example.cn"
    db.session.commit()
    found = fire_many(entries, "publish_notice", world["users"]["city"], bulk_id="b")
    db.session.commit()
    assert not any(found.values())
    notes = {n.id: n for n in db.session.scalars(select(Notification).where(
        Notification.event == "result_published"))}
    mails = list(db.session.scalars(select(OutboxMessage).where(
        OutboxMessage.event == "result_published")))
    assert len(mails) == len(notes) == 6
    for mail in mails:
        note = notes[mail.notification_id]
        assert (mail.user_id, mail.subject, mail.body) == (note.user_id, note.subject, note.body)
        assert mail.to_address == f"{db.session.get(User, note.user_id).username}@example.cn"
    assert {n.application_id for n in notes.values()} == {e.id for e in entries}
