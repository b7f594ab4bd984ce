"""Configuration: class attributes read from the environment."""

import contextlib
import os
import secrets
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INSTANCE = Path(os.environ.get("PINGSHEN_INSTANCE", ROOT / "instance"))


def _secret_key() -> str:
    """Return SECRET_KEY from the environment, or a key kept in instance/ across restarts.

    The first process to start writes the key; gunicorn's workers start at once, so the file is
    written whole under a temporary name and linked into place, which fails for all but one:
    no process reads a half-written key or keeps a key of its own. (Several machines share
    no instance/ folder: they need SECRET_KEY in the environment, docs/deploy.md.)
    """
    if key := os.environ.get("SECRET_KEY"):
        return key
    path = INSTANCE / "secret_key"
    if not path.exists():
        INSTANCE.mkdir(parents=True, exist_ok=True)
        temporary = INSTANCE / f"secret_key.{secrets.token_hex(4)}.tmp"
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as target:
            target.write(secrets.token_urlsafe(48))
        try:
            with contextlib.suppress(FileExistsError):  # another process was first: its key
                os.link(temporary, path)
        finally:
            temporary.unlink()
    return path.read_text().strip()


class Config:
    """Settings for a real deployment; every value can come from the environment."""

    SECRET_KEY = _secret_key()
    SQLALCHEMY_DATABASE_URI = os.environ.get(
        "DATABASE_URL", f"sqlite:///{INSTANCE / 'pingshen.db'}"
    )
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True}
    WORKFLOWS_DIR = os.environ.get("PINGSHEN_WORKFLOWS", str(ROOT / "workflows"))
    FORMS_DIR = os.environ.get("PINGSHEN_FORMS", str(ROOT / "forms"))
    UPLOAD_FOLDER = os.environ.get("UPLOAD_FOLDER", str(INSTANCE / "uploads"))
    CERTIFICATE_FOLDER = os.environ.get("CERTIFICATE_FOLDER", str(INSTANCE / "certificates"))
    # Uploaded Excel imports wait here between preview and confirmation (deleted after).
    IMPORT_FOLDER = os.environ.get("IMPORT_FOLDER", str(INSTANCE / "imports"))
    # New accounts one web import may create: each password hash costs ~0.1 s of CPU (scrypt),
    # and a request must end within gunicorn's timeout; `flask users import` has no limit.
    IMPORT_WEB_MAX_NEW_USERS = int(os.environ.get("IMPORT_WEB_MAX_NEW_USERS", 300))
    # Exports built in the background (a call's ZIP of dossiers).
    EXPORT_FOLDER = os.environ.get("EXPORT_FOLDER", str(INSTANCE / "exports"))
    # Above this many entries the applications workbook is built by the background worker
    # (about a millisecond per entry: a web request should not wait ten seconds).
    EXPORT_INLINE_LIMIT = int(os.environ.get("EXPORT_INLINE_LIMIT", 2000))
    # The absolute URL printed in certificate QR codes; falls back to the request's host.
    PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "")
    # The background job queue (see app/jobs.py): SQLite file, redis://..., or "immediate".
    JOB_QUEUE_URL = os.environ.get("JOB_QUEUE_URL", f"sqlite:///{INSTANCE / 'jobs.db'}")
    # The queue's name in that storage: instances sharing one Redis need different names.
    JOB_QUEUE_NAME = os.environ.get("JOB_QUEUE_NAME", "pingshen")
    # A running job with no sign of life for this long is taken up again by the minute sweep.
    JOB_STALE_SECONDS = int(os.environ.get("JOB_STALE_SECONDS", 120))
    CERTIFICATE_ISSUER = os.environ.get("CERTIFICATE_ISSUER", "X市教育局\nX市社区教育指导中心")
    # Public certificate lookups allowed per client address per minute (pages and API together).
    VERIFY_MAX_PER_MINUTE = int(os.environ.get("VERIFY_MAX_PER_MINUTE", 30))
    MAX_CONTENT_LENGTH = int(os.environ.get("MAX_CONTENT_LENGTH", 800 * 1024 * 1024))
    BABEL_DEFAULT_LOCALE = "zh_CN"
    BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
    LANGUAGES = ["zh_CN", "en"]
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    # Behind HTTPS (as every deployment should be): the cookie is sent over HTTPS only, and
    # responses carry Strict-Transport-Security.
    SESSION_COOKIE_SECURE = os.environ.get("SESSION_COOKIE_SECURE", "0") == "1"
    # A Secure cookie is named __Host-…: the browser then refuses it from plain HTTP, from
    # another path and from a subdomain (ASVS 3.3.3).
    SESSION_COOKIE_NAME = "__Host-session" if SESSION_COOKIE_SECURE else "session"
    REMEMBER_COOKIE_HTTPONLY = True
    # A login lasts this long from the moment it is made, however busy the user has been, and
    # ends after SESSION_IDLE_MINUTES without a request (app/session_limits.py).
    PERMANENT_SESSION_LIFETIME = int(os.environ.get("SESSION_HOURS", 8)) * 3600
    SESSION_IDLE_MINUTES = int(os.environ.get("SESSION_IDLE_MINUTES", 120))
    # "stderr": each security event also as a JSON line on standard error (for journald or
    # syslog to carry off the machine); "": only in the database.
    SECURITY_LOG = os.environ.get("SECURITY_LOG", "stderr")
    # The host names the site answers to (comma-separated, e.g. "ps.example.gov.cn"); any
    # other Host header gets 400. Empty: any host (development only).
    TRUSTED_HOSTS = [h.strip() for h in os.environ.get("TRUSTED_HOSTS", "").split(",")
                     if h.strip()] or None
    # Administrators (city and district) must set up a second factor (TOTP) at their next login.
    REQUIRE_TOTP_FOR_ADMINS = os.environ.get("REQUIRE_TOTP_FOR_ADMINS", "0") == "1"
    # Refused requests (403) recorded per account and minute in the security events; more are
    # still refused but not written, so one account cannot fill the disk with refusals.
    REFUSAL_EVENTS_PER_MINUTE = int(os.environ.get("REFUSAL_EVENTS_PER_MINUTE", 30))
    WTF_CSRF_TIME_LIMIT = 8 * 3600
    LOGIN_MAX_FAILURES = int(os.environ.get("LOGIN_MAX_FAILURES", 5))
    LOGIN_MAX_FAILURES_PER_ADDRESS = int(os.environ.get("LOGIN_MAX_FAILURES_PER_ADDRESS", 20))
    LOGIN_WINDOW_SECONDS = int(os.environ.get("LOGIN_WINDOW_SECONDS", 900))
    # How long a password-reset link sent by e-mail stays valid.
    PASSWORD_RESET_SECONDS = int(os.environ.get("PASSWORD_RESET_SECONDS", 3600))
    # Number of reverse proxies in front of the app (nginx: 1), so that the client address
    # used for rate limits is the real one from X-Forwarded-For, not the proxy's.
    PROXY_COUNT = int(os.environ.get("PROXY_COUNT", 0))
    API_TOKEN_HOURS = int(os.environ.get("API_TOKEN_HOURS", 12))
    # E-mail (docs/notifications.md): without MAIL_SERVER nothing is sent and messages wait in
    # the outbox. MAIL_USE_TLS: STARTTLS on a plain connection; MAIL_USE_SSL: SMTPS (port 465).
    MAIL_SERVER = os.environ.get("MAIL_SERVER", "")
    MAIL_PORT = int(os.environ.get("MAIL_PORT", 25))
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME", "")
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD", "")
    MAIL_USE_TLS = os.environ.get("MAIL_USE_TLS", "0") == "1"
    MAIL_USE_SSL = os.environ.get("MAIL_USE_SSL", "0") == "1"
    MAIL_FROM = os.environ.get("MAIL_FROM", "pingshen@localhost")
    MAIL_TIMEOUT = int(os.environ.get("MAIL_TIMEOUT", 30))
    # Minutes to wait after the 1st, 2nd, ... failed attempt; after the last one it has failed.
    MAIL_RETRY_MINUTES = os.environ.get("MAIL_RETRY_MINUTES", "1,5,30,120")
    # A message left "sending" this long (its worker died) is marked failed, never resent.
    MAIL_SENDING_TIMEOUT = int(os.environ.get("MAIL_SENDING_TIMEOUT", 10))
    # Reminders before a review or stage deadline (days before it), and the escalation to the
    # administrator this many days after it while the work is still not done.
    REMINDER_BEFORE_DAYS = [int(d) for d in os.environ.get("REMINDER_BEFORE_DAYS", "3,1")
                            .split(",") if d.strip()]
    ESCALATE_AFTER_DAYS = int(os.environ.get("ESCALATE_AFTER_DAYS", 2))


class TestConfig(Config):
    """Settings for the test suite: a throwaway database and folders, CSRF on."""

    TESTING = True
    SQLALCHEMY_DATABASE_URI = os.environ.get("TEST_DATABASE_URL", "sqlite://")
    SERVER_NAME = "pingshen.test"
    PUBLIC_BASE_URL = "http://pingshen.test"
