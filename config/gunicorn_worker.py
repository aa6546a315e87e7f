"""gunicorn's sync worker, with its answer to a worker timeout in the API's error shape.

When a request outlives `--timeout`, the arbiter sends the worker SIGABRT: gunicorn's handler
raises SystemExit inside the request, and the worker's `handle_error` writes an HTML 500 before
the process exits. This worker marks the abort and writes `{"detail": ..., "code": "timeout"}`
(JSON, still a 500) instead; every other error is gunicorn's own handling. The recipe's config
file (config/gunicorn.py) selects it; a server started without that file answers gunicorn's HTML.
"""

import json
from datetime import datetime

from gunicorn import util
from gunicorn.http.wsgi import Response, default_environ
from gunicorn.workers.sync import SyncWorker

TIMEOUT_DETAIL = (
    "The server stopped this request: it took longer than the server's timeout. A command may or "
    "may not have been applied: retry it with the same Idempotency-Key to apply it exactly once, "
    "or read the resource to find out."
)


class JsonErrorSyncWorker(SyncWorker):
    aborting = False

    def handle_abort(self, sig, frame):
        self.aborting = True  # the arbiter's timeout: the SystemExit that follows is ours
        super().handle_abort(sig, frame)

    def handle_error(self, req, client, addr, exc):
        if not (self.aborting and isinstance(exc, SystemExit)):
            return super().handle_error(req, client, addr, exc)
        started = datetime.now()
        what = f"{req.method} {req.uri}" if req is not None else "(no request read)"
        self.log.error("Worker timeout: %s answered 500 (timeout)", what)
        # Imported here: the arbiter loads this class before Django's settings exist.
        from infra.errors import error_body

        body = json.dumps(error_body(TIMEOUT_DETAIL, "timeout")).encode()
        if req is not None:
            addr = addr or ("", -1)
            environ = default_environ(req, client, self.cfg)
            environ["REMOTE_ADDR"], environ["REMOTE_PORT"] = addr[0], str(addr[1])
            response = Response(req, client, self.cfg)
            response.status = "500 Internal Server Error"
            response.response_length = len(body)
            self.log.access(response, req, environ, datetime.now() - started)
        head = (
            "HTTP/1.1 500 Internal Server Error\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        try:
            util.write_nonblock(client, head.encode("latin1") + body)
        except Exception:
            self.log.debug("Failed to send the timeout answer.")
