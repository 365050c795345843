"""The data model, one module per aggregate; import models from here."""

from rmc_outreach.models.attempts import ContactAttempt, ProviderEvent
from rmc_outreach.models.audit import AuditEvent, ReferralImport
from rmc_outreach.models.handlers import (
    CallbackRequest,
    Handler,
    HandlerSession,
    Handoff,
    HandoffEndReason,
    HandoffOffer,
    HandoffSource,
    OfferResult,
)
from rmc_outreach.models.import_jobs import ImportJob, ImportJobState
from rmc_outreach.models.letters import Letter, LetterStatus, PrintBatch
from rmc_outreach.models.metrics import MetricAssumption
from rmc_outreach.models.patients import Patient
from rmc_outreach.models.pauses import ALL_PRIORITIES_SCOPE, OutreachPause
from rmc_outreach.models.referrals import Referral
from rmc_outreach.models.settings import Setting
from rmc_outreach.models.states import (
    OPEN_REFERRAL_STATUSES,
    AttemptOutcome,
    AttemptState,
    Channel,
    HandlerState,
    ImportStatus,
    Priority,
    ReferralStatus,
    Role,
)
from rmc_outreach.models.users import User

__all__ = [
    "ALL_PRIORITIES_SCOPE",
    "OPEN_REFERRAL_STATUSES",
    "AttemptOutcome",
    "AttemptState",
    "AuditEvent",
    "CallbackRequest",
    "Channel",
    "ContactAttempt",
    "Handler",
    "HandlerSession",
    "HandlerState",
    "Handoff",
    "HandoffEndReason",
    "HandoffOffer",
    "HandoffSource",
    "ImportJob",
    "ImportJobState",
    "ImportStatus",
    "Letter",
    "LetterStatus",
    "MetricAssumption",
    "OfferResult",
    "OutreachPause",
    "Patient",
    "PrintBatch",
    "Priority",
    "ProviderEvent",
    "Referral",
    "ReferralImport",
    "ReferralStatus",
    "Role",
    "Setting",
    "User",
]
