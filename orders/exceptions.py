"""Domain errors raised by commands; the API maps them to HTTP statuses, the admin to messages.

Invalid input is Django's own ValidationError (400); these cover the rest.
"""


class DomainError(Exception):
    """Base of every refusal a command can give that is not invalid input."""

    code = "domain_error"

    def __init__(self, message: str, **context):
        super().__init__(message)
        self.message = message
        self.context = context


class TransitionNotAllowed(DomainError):
    """The order's current status forbids this command (HTTP 409)."""

    code = "transition_not_allowed"


class VersionMismatch(DomainError):
    """The client acted on a version of the order that is no longer current (HTTP 412)."""

    code = "version_mismatch"
