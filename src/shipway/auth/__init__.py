"""Who may do what: API tokens by role and the one rule that decides each request.

Pure: no I/O. The store keeps the records (`shipway.store.access`), the use cases
(`shipway.usecases.tokens`) check a bearer token against them, and the server asks
`authorize` before every route it serves.
"""

from shipway.auth.policy import Action, Decision, authorize
from shipway.auth.records import AuditEntry, Outcome, Role, TokenRecord
from shipway.auth.tokens import TOKEN_PREFIX, check_role, check_user, new_token, token_digest

__all__ = [
    "TOKEN_PREFIX",
    "Action",
    "AuditEntry",
    "Decision",
    "Outcome",
    "Role",
    "TokenRecord",
    "authorize",
    "check_role",
    "check_user",
    "new_token",
    "token_digest",
]
