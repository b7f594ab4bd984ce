"""All models, importable from one place (Alembic reads the metadata from here)."""

from app.models.accounts import ApiToken, LoginAttempt, Organisation, OrgKind, Role, User
from app.models.applications import Application, Attachment, AuditEntry, Objection
from app.models.certificates import (
    Certificate,
    CertificateDownload,
    IssuerSeal,
    Job,
    SerialCounter,
    StoredTemplate,
    TemplateAsset,
    VerificationLog,
)
from app.models.notifications import (
    Notification,
    NotificationTemplate,
    OutboxMessage,
    ReminderLog,
)
from app.models.programmes import Call, CallQuota, ProgrammeVersion
from app.models.reviews import (
    AwardProposal,
    CallInvitation,
    CallRound,
    DispersionWaiver,
    Panel,
    PanelMember,
    ReviewAssignment,
    ReviewResult,
    SheetRevision,
)
from app.models.security import EventKind, SecurityEvent

__all__ = [
    "ApiToken",
    "Application",
    "Attachment",
    "AuditEntry",
    "AwardProposal",
    "Call",
    "CallInvitation",
    "CallQuota",
    "CallRound",
    "Certificate",
    "CertificateDownload",
    "DispersionWaiver",
    "EventKind",
    "IssuerSeal",
    "Job",
    "LoginAttempt",
    "Notification",
    "NotificationTemplate",
    "Objection",
    "OrgKind",
    "Organisation",
    "OutboxMessage",
    "Panel",
    "PanelMember",
    "ProgrammeVersion",
    "ReminderLog",
    "ReviewAssignment",
    "ReviewResult",
    "Role",
    "SecurityEvent",
    "SerialCounter",
    "SheetRevision",
    "StoredTemplate",
    "TemplateAsset",
    "User",
    "VerificationLog",
]
