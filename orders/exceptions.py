"""Domain errors raised by commands; the API maps them to HTTP statuses, the admin to messages.

Invalid input is Django's own ValidationError (400); these cover the rest. Each class declares its
answer (infra.errors.DomainError) the way DRF's APIException does: `status_code`, `default_code`, and `body_fields`, the
context entries a client may see (response key -> context key). The API's exception handler reads
only these attributes, so a new refusal needs no change there.
"""

from infra.errors import DomainError


class TransitionNotAllowed(DomainError):
    """The order's current status forbids this command."""

    status_code = 409
    default_code = "transition_not_allowed"
    body_fields = {"status": "status", "version": "version"}


class VersionMismatch(DomainError):
    """The client acted on a version of the order that is no longer current."""

    status_code = 412
    default_code = "version_mismatch"
    body_fields = {"current_version": "version"}
