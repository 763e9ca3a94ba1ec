"""IAM as the template declares it: role sessions with their own keys, and policy evaluation."""

from rsetl.iam.exceptions import PolicyError
from rsetl.iam.identities import Caller, Callers, Role, ServiceCaller, session_credentials
from rsetl.iam.model import SECURE_TRANSPORT, CallerAuthorizer, LocalIam, denial_message
from rsetl.iam.policy import Decision, Evaluation, PolicyDocument, Principal, evaluate

__all__ = [
    "SECURE_TRANSPORT",
    "Caller",
    "CallerAuthorizer",
    "Callers",
    "Decision",
    "Evaluation",
    "LocalIam",
    "PolicyDocument",
    "PolicyError",
    "Principal",
    "Role",
    "ServiceCaller",
    "denial_message",
    "evaluate",
    "session_credentials",
]
