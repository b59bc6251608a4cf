"""All models, importable from one place (Alembic's env.py imports this and archiving.models)."""

from inbox.models.alerts import (
    Alert,
    AlertRecipient,
    AlertState,
    RecipientList,
    RecipientState,
)
from inbox.models.api_tokens import ApiScope, ApiToken
from inbox.models.audit import AuditEntry
from inbox.models.canned import CannedReply
from inbox.models.channels import ChannelAccount, ChannelKind
from inbox.models.contacts import Contact, ContactIdentity, IdentityKind
from inbox.models.conversations import (
    Attachment,
    Conversation,
    ConversationStatus,
    DeliveryStatus,
    Direction,
    Message,
    MessageRevision,
)
from inbox.models.events import EventState, InboundEvent
from inbox.models.insight import ConversationFact, InsightDaily, InsightState, InsightTermDaily
from inbox.models.matching import ContactMatchSuggestion, MatchReason, MatchStatus
from inbox.models.realtime import ConversationPresence, RealtimeEvent, UnsentTask
from inbox.models.sessions import StaffSession
from inbox.models.sso import IdportenIdentity, SsoConfig, SsoLink
from inbox.models.tags import ConversationTag, Tag
from inbox.models.tenancy import Membership, Role, Team, TeamMember, Tenant, User

__all__ = [
    "ApiScope",
    "ApiToken",
    "Attachment",
    "AuditEntry",
    "CannedReply",
    "ChannelAccount",
    "ChannelKind",
    "Contact",
    "ContactIdentity",
    "ContactMatchSuggestion",
    "ConversationPresence",
    "Conversation",
    "ConversationTag",
    "ConversationStatus",
    "DeliveryStatus",
    "EventState",
    "Direction",
    "IdentityKind",
    "InboundEvent",
    "MatchReason",
    "MatchStatus",
    "Membership",
    "Message",
    "MessageRevision",
    "RealtimeEvent",
    "Role",
    "StaffSession",
    "Tag",
    "Team",
    "TeamMember",
    "Tenant",
    "UnsentTask",
    "User",
    "SsoConfig",
    "SsoLink",
    "IdportenIdentity",
    "ConversationFact",
    "InsightDaily",
    "InsightState",
    "InsightTermDaily",
    "Alert",
    "AlertRecipient",
    "AlertState",
    "RecipientList",
    "RecipientState",
]

from inbox.models.secrets import StoredSecret  # noqa: E402

__all__ += ["StoredSecret"]

from inbox.models.routing import RoutingRule  # noqa: E402

__all__ += ["RoutingRule"]

from inbox.models.logo import TenantLogo  # noqa: E402

__all__ += ["TenantLogo"]
