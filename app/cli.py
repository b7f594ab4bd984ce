"""Administrator commands: `flask orgs|users|workflows|reviews|demo|jobs|export ...`."""

from __future__ import annotations

import sys
from typing import Any, NoReturn

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import inspect, select

from app.engine.errors import DefinitionError, PingshenError
from app.extensions import db

orgs = AppGroup("orgs", help="Manage the organisation tree.")
users = AppGroup("users", help="Manage user accounts.")
workflows = AppGroup("workflows", help="Check and show programme definitions.")
reviews = AppGroup("reviews", help="Check stored review results.")
demo = AppGroup("demo", help="Demonstration data.")
jobs = AppGroup("jobs", help="The background job queue.")
mail = AppGroup("mail", help="The e-mail outbox.")


def register_cli(app: Flask) -> None:
    """Add the command groups (and `flask backup` / `restore` / `check`) to `flask`."""
    from app.cli_backup import backup, check, restore
    from app.cli_exports import export  # it uses _fail from here
    from app.cli_files import files

    for group in (orgs, users, workflows, reviews, demo, jobs, mail, export, backup, restore,
                  check, files):
        app.cli.add_command(group)


def _fail(message: str) -> NoReturn:
    """Print an error to stderr and exit with status 1."""
    click.echo(f"错误 / error: {message}", err=True)
    sys.exit(1)


@orgs.command("add")
@click.argument("code")
@click.argument("name")
@click.option("--kind", required=True, type=click.Choice(["city", "district", "street", "unit"]))
@click.option("--parent", "parent_code", default=None, help="Code of the parent organisation.")
def orgs_add(code: str, name: str, kind: str, parent_code: str | None) -> None:
    """Add an organisation: the city, a district, a town/street or a unit."""
    from app.services.accounts import add_organisation

    try:
        org = add_organisation(code, name, kind, parent_code)
        db.session.commit()
    except PingshenError as exc:
        _fail(exc.message)
    click.echo(f"added {org.kind} {org.code} {org.name}")


@orgs.command("list")
def orgs_list() -> None:
    """Print the organisation tree."""
    from app.models import Organisation

    rows = db.session.scalars(select(Organisation).order_by(Organisation.id)).all()
    children: dict[int | None, list[Organisation]] = {}
    for org in rows:
        children.setdefault(org.parent_id, []).append(org)

    def show(parent: int | None, depth: int) -> None:
        for org in children.get(parent, []):
            click.echo(f"{'  ' * depth}{org.code}  {org.name}  ({org.kind})")
            show(org.id, depth + 1)

    show(None, 0)


@users.command("add")
@click.argument("username")
@click.option("--role", required=True,
              type=click.Choice(["applicant", "district_admin", "city_admin", "expert"]))
@click.option("--org", "org_code", required=True, help="Code of the user's organisation.")
@click.option("--name", default="", help="The person's name (姓名).")
@click.option("--title", default="", help="Professional title (职称), for experts.")
@click.option("--expertise", default="", help="Comma-separated expertise tags, for experts.")
@click.option("--email", default="", help="E-mail address for notifications.")
@click.option("--phone", default="", help="Phone number shown to administrators.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def users_add(username: str, role: str, org_code: str, name: str, title: str, expertise: str,
              email: str, phone: str, password_stdin: bool) -> None:
    """Add a user; the password is read from stdin or prompted for, never an argument."""
    from app.services.accounts import add_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        tags = [tag for tag in expertise.replace("，", ",").split(",") if tag.strip()]
        user = add_user(username, role, org_code, password, name, title, tags, email, phone)
        db.session.commit()
    except PingshenError as exc:
        _fail(exc.message)
    click.echo(f"added user {user.username} ({user.role}) in {org_code}")


@users.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--valid-only", is_flag=True,
              help="Import the valid rows even if other rows have errors.")
@click.option("--dry-run", is_flag=True, help="Only check and report; write nothing.")
@click.option("--credentials", "credentials_path", type=click.Path(dir_okay=False),
              default=None, help="Write generated passwords to this .xlsx instead of printing.")
def users_import(path: str, valid_only: bool, dry_run: bool,
                 credentials_path: str | None) -> None:
    """Import organisations, users and experts from an .xlsx file (see docs/people.md)."""
    from pathlib import Path

    from app.services.import_specs import credentials_xlsx
    from app.services.imports import apply_import, check_file, report_lines, summary

    try:
        report = check_file(Path(path).read_bytes())
    except PingshenError as exc:
        _fail(exc.message)
    for line in report_lines(report):
        click.echo(line)
    if dry_run:
        click.echo("试运行：未写入任何数据 / dry run: nothing written")
        if not report.valid and not valid_only:
            sys.exit(1)
        return
    try:
        outcome = apply_import(report, valid_only=valid_only)
        db.session.commit()
    except PingshenError as exc:
        db.session.rollback()
        _fail(exc.message)
    click.echo(summary(outcome))
    if outcome.credentials and credentials_path:
        import os

        descriptor = os.open(credentials_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as target:
            target.write(credentials_xlsx(outcome.credentials))
        click.echo(f"{len(outcome.credentials)} 个初始密码已写入 {credentials_path}"
                   "（只此一份，请妥善保管）")
    elif outcome.credentials:
        click.echo("自动生成的初始密码（只显示这一次）/ generated passwords (shown once):")
        for c in outcome.credentials:
            click.echo(f"  {c.username}\t{c.name}\t{c.password}")


@workflows.command("check")
def workflows_check() -> None:
    """Validate every definition file (and compare with versions already in use)."""
    from app.engine.loader import load_catalogue
    from app.services.programmes import check_recorded_versions

    try:
        catalogue = load_catalogue(current_app.config["WORKFLOWS_DIR"],
                                   current_app.config["FORMS_DIR"])
    except DefinitionError as exc:
        for problem in exc.problems:
            click.echo(problem, err=True)
        _fail(f"{len(exc.problems)} problem(s) in the definitions")
    if inspect(db.engine).has_table("programme_versions"):
        problems = check_recorded_versions()
        if problems:
            for problem in problems:
                click.echo(problem, err=True)
            _fail(f"{len(problems)} definition(s) changed without a new version")
    for programme in catalogue.values():
        workflow = programme.workflow
        click.echo(f"ok  {programme.key} v{programme.version}  {programme.title}  "
                   f"({len(workflow['states'])} states, {len(workflow['transitions'])} "
                   f"transitions, {len(programme.forms)} forms, {len(programme.rubrics)} rubrics)")


@workflows.command("show")
@click.argument("key")
@click.option("--svg", "svg_path", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Also draw the workflow as an SVG diagram into this file.")
def workflows_show(key: str, svg_path: str | None) -> None:
    """Print a programme's states and transitions with their roles, guards and actions."""
    from app.engine.diagram import workflow_svg
    from app.i18n import role_label
    from app.services.programmes import catalogue

    programme = catalogue().get(key)
    if programme is None:
        _fail(f"no programme {key!r}; known: {', '.join(sorted(catalogue()))}")
    if svg_path:
        with open(svg_path, "w", encoding="utf-8") as target:
            target.write(workflow_svg(programme.workflow, role_label=role_label))
    workflow = programme.workflow
    click.echo(f"{workflow['title']}  ({programme.key} v{programme.version}, "
               f"code {workflow['code']})")
    click.echo(f"application form: {workflow['form']}   initial state: {workflow['initial']}")
    click.echo("\nstates:")
    for state in workflow["states"]:
        marks = [f"final/{state['outcome']}" if state["final"] else "",
                 "editable" if state["editable"] else "",
                 f"fill:{','.join(state['fill'])}" if state["fill"] else "",
                 _round_text(state["review"]) if state["review"] else "",
                 "notice" if state["notice"] else "",
                 f"deadline:{state['deadline']['fire']}" if state["deadline"] else ""]
        click.echo(f"  {state['name']:<20} {state['label']}  {' '.join(m for m in marks if m)}")
    click.echo("\ntransitions:")
    for t in workflow["transitions"]:
        click.echo(f"  {t['trigger']:<22} {','.join(t['source'])} -> {t['dest']}  "
                   f"[{', '.join(t['roles'])}]  {t['label']}")
        extras = [f"guards: {', '.join(g['name'] for g in t['guards'])}" if t["guards"] else "",
                  f"actions: {', '.join(a['name'] for a in t['actions'])}" if t["actions"] else "",
                  f"form: {t['form']}" if t["form"] else "",
                  "comment required" if t["comment"] == "required" else "",
                  _notify_text(t["notify"]) if t["notify"] else ""]
        extras = [e for e in extras if e]
        if extras:
            click.echo(f"  {'':<22} {'; '.join(extras)}")
    if svg_path:
        click.echo(f"\ndiagram written to {svg_path}")


@workflows.command("docs")
@click.argument("folder", type=click.Path(file_okay=False), default="docs/programmes")
def workflows_docs(folder: str) -> None:
    """Write one page (Markdown and SVG diagram) per programme, and an index, into FOLDER."""
    from pathlib import Path

    from app.engine.diagram import workflow_svg
    from app.engine.programme_doc import index_markdown, programme_markdown
    from app.i18n import role_label
    from app.services.programmes import catalogue

    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    programmes = list(catalogue().values())
    for programme in programmes:
        (target / f"{programme.key}.md").write_text(programme_markdown(programme),
                                                   encoding="utf-8")
        (target / f"{programme.key}.svg").write_text(
            workflow_svg(programme.workflow, role_label=role_label), encoding="utf-8")
    (target / "README.md").write_text(index_markdown(programmes), encoding="utf-8")
    click.echo(f"{len(programmes)} programme page(s) written to {target}")


@workflows.command("tick")
@click.option("--now", "now_text", default=None, metavar="ISO-TIME",
              help="Pretend it is this time (e.g. 2026-06-20T09:00+08:00); default: now.")
def workflows_tick(now_text: str | None) -> None:
    """Fire the transitions whose state deadline has passed, send the reminders that are due
    and the e-mail waiting in the outbox (run it from cron, or let the worker do it every
    minute)."""
    from datetime import datetime

    from app.services.mail import send_due
    from app.services.reminders import run_reminders
    from app.services.timers import run_timers

    now = None
    if now_text:
        try:
            now = datetime.fromisoformat(now_text)
        except ValueError:
            _fail(f"--now must be an ISO time such as 2026-06-20T09:00+08:00, got {now_text!r}")
        if now.tzinfo is None:
            _fail("--now needs a time zone, e.g. +08:00")
    outcomes = run_timers(now)
    for o in outcomes:
        status = "moved" if o.moved else "refused: " + "；".join(o.reasons)
        click.echo(f"entry {o.application_id} {o.title}: {o.trigger} (due {o.due.isoformat()}) "
                   f"{status}")
    moved = sum(o.moved for o in outcomes)
    click.echo(f"{moved} moved, {len(outcomes) - moved} refused")
    reminders = run_reminders(now)
    for r in reminders:
        click.echo(f"reminder {r.kind} ({r.offset_days:+d} days) for {r.subject}: "
                   f"{r.recipients} recipient(s)")
    click.echo(f"{len(reminders)} reminder(s) sent")
    _echo_mail(send_due())


@mail.command("send")
def mail_send() -> None:
    """Send the e-mail that is due now (the worker does it every minute)."""
    from app.services.mail import send_due

    _echo_mail(send_due())


def _echo_mail(counts: dict[str, int]) -> None:
    """Say what a run of the outbox did."""
    from app.services.mail import mail_enabled

    if not mail_enabled():
        click.echo("mail: MAIL_SERVER is not set; messages wait in the outbox")
    click.echo(f"mail: {counts['sent']} sent, {counts['retry']} to retry, "
               f"{counts['failed']} failed, {counts['interrupted']} interrupted")


@workflows.command("sync")
def workflows_sync() -> None:
    """Record the current version of every programme in the database (refuses changed copies)."""
    from app.services.programmes import catalogue, record_version

    try:
        for programme in catalogue().values():
            row = record_version(programme)
            click.echo(f"recorded {programme.key} v{row.version}")
        db.session.commit()
    except PingshenError as exc:
        _fail(exc.message)


@reviews.command("verify")
@click.argument("result_id", type=int)
def reviews_verify(result_id: int) -> None:
    """Recompute a stored round result from its stored sheets and settings, and compare."""
    from app.models import ReviewResult
    from app.services.rounds import verify_result

    result = db.session.get(ReviewResult, result_id)
    if result is None:
        _fail(f"没有这个评审结果：{result_id}")
    try:
        check = verify_result(result)
    except PingshenError as exc:
        _fail(exc.message)
    sheets, entries = len(result.inputs["sheets"]), len(result.results)
    click.echo(f"result {result.id}: round {result.round}, {sheets} sheets, {entries} entries")
    click.echo(f"fingerprint {result.fingerprint} "
               f"{'matches' if check.fingerprint_matches else 'DIFFERS'}")
    for difference in check.differences:
        stored, again = difference["stored"], difference["recomputed"]
        click.echo(f"  entry {difference['entry']}: stored "
                   f"{stored['score'] if stored else '-'}, recomputed "
                   f"{again['score'] if again else '-'}")
    if not check.ok:
        _fail("重新计算的结果与保存的不一致 / the recomputed result differs")
    click.echo("same result: every entry recomputes to the stored score")


@demo.command("load")
@click.option("--if-empty", is_flag=True, help="Do nothing when users already exist.")
def demo_load(if_empty: bool) -> None:
    """Load a demo city, districts, units, one account per role, a call and applications."""
    from app.models import Organisation, User
    from app.services.demo import DEMO_PASSWORD, load_demo

    if if_empty and db.session.scalar(select(User.id).limit(1)) is not None:
        click.echo("database already has users; demo data not loaded")
        return
    if db.session.scalar(select(Organisation.id).where(Organisation.code == "X")) is not None:
        _fail("the demo's organisations are already in the database (organisation X); "
              "load the demo into an empty database")
    accounts = load_demo()
    db.session.commit()
    click.echo("demo data loaded. Log in at http://127.0.0.1:5000 with:")
    for username, role in accounts:
        click.echo(f"  {username:<18} {role:<15} password: {DEMO_PASSWORD}")


def _notify_text(notify: dict[str, Any]) -> str:
    """A step's explicit notification: its event and recipients, or none."""
    if notify["event"] is None:
        return "notify: none"
    return f"notify: {notify['event']}" + (f" to {', '.join(notify['to'])}" if notify["to"] else "")


def _round_text(review: dict[str, Any]) -> str:
    """A review round in one token: its rubric, and its weight when it is not the only round."""
    text = f"review:{review['rubric']}"
    if review["weight"] != "1":
        text += f"×{review['weight']}"
    return text + ("/blind" if review["blind"] else "")


@jobs.command("worker")
@click.option("--workers", type=click.IntRange(1, 64), default=None,
              help="Worker processes (default: one per CPU core).")
def jobs_worker(workers: int | None) -> None:
    """Run the background worker: draws certificates, resumes interrupted jobs."""
    import logging
    import os
    from datetime import timedelta

    from app.jobs import queue
    from app.services.certificate_jobs import resume_jobs

    jobs_queue = queue()
    if jobs_queue.immediate:
        _fail("JOB_QUEUE_URL=immediate runs jobs in the web process; there is nothing to work on")
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    sqlite = current_app.config["JOB_QUEUE_URL"].startswith("sqlite:")
    resumed = resume_jobs(timedelta(0), at_start=True) if sqlite else []
    if resumed:
        click.echo(f"resumed interrupted jobs: {resumed}")
    db.session.remove()
    db.engine.dispose()  # the forked workers open their own connections
    count = workers or os.cpu_count() or 1
    storage = type(jobs_queue.huey.storage).__name__
    click.echo(f"Pingshen worker: {count} process(es) on {storage}")


    @jobs_queue.huey.on_startup()
    def warm_up() -> None:
        """Load WeasyPrint, fonts and stylesheet before the first certificate, per process."""
        from app.certificates.render import warm_up

        warm_up()
        click.echo(f"worker process {os.getpid()} ready")

    # An idle worker looks at the queue at least every second (huey's default backs off to 10 s).
    jobs_queue.huey.create_consumer(workers=count, worker_type="process", periodic=True,
                                    check_worker_health=True, max_delay=1.0).run()


@jobs.command("status")
def jobs_status() -> None:
    """Show how many tasks wait in the queue and the latest jobs."""
    from app.jobs import queue
    from app.models import Job

    click.echo(f"waiting tasks: {queue().pending()}")
    for record in db.session.scalars(select(Job).order_by(Job.id.desc()).limit(10)):
        click.echo(f"job {record.id} {record.kind} call={record.call_id} {record.status} "
                   f"{record.done}/{record.total} failed={record.failed} {record.error}")
