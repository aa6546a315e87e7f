"""What the current request's command did, for the layers that answer the request.

`orders.events` sets the position when a command records its event. The command API returns it
(`X-Command-Position`); an error answer reads it to know whether a command may have committed in
this request (infra.errors: "nothing was changed" is said only when none did).
"""

from contextvars import ContextVar

# The log position (transaction id) of the last event recorded in this context.
command_position: ContextVar[int | None] = ContextVar("command_position", default=None)
