"""Where the reads of each command endpoint live: a GET on a command answers 405 with the link.

Commands and queries are separate here: a command endpoint never answers GET. Rather than a bare
405, the API's exception handler (`exception_handler` below: infra.errors' handler, plus this)
names the report that serves what the client was looking for: the report's row when the
command's URL carries the report's key (`/api/orders/7/pay/` -> `/api/reports/orders/7/`), its list
otherwise. Which report: the one keyed by the command's aggregate id (`order-pay` acts on an
order: the report keyed by `order_id`), so a report serves these links by its key alone. It lives
in the composition root because it ties the command side to the read side.
"""

from urllib.parse import urlsplit

from rest_framework.exceptions import MethodNotAllowed
from rest_framework.reverse import reverse

from infra import errors
from reporting.catalog import report_keyed_by
from reporting.report import Report

READ_METHODS = ("GET", "HEAD")


def report_serving(match) -> Report | None:
    """The report that serves the reads of the command endpoint `match` resolved to, if any: the
    command API names its URLs `<aggregate>-<command>` (orders/api/urls.py)."""
    if match is None or not match.url_name:
        return None
    aggregate = match.url_name.split("-")[0]
    return report_keyed_by(f"{aggregate}_id")


def reads_url(request) -> str | None:
    """The absolute URL of the report that serves this command endpoint's reads, if any."""
    match = request.resolver_match
    report = report_serving(match) if request.method in READ_METHODS else None
    if report is None:
        return None
    (key,) = report.key
    if key in match.kwargs:
        name, kwargs = f"report-{report.route}-detail", {key: match.kwargs[key]}
    else:
        name, kwargs = f"report-{report.route}-list", None
    return reverse(name, kwargs=kwargs, request=request)


def exception_handler(exc, context):
    """settings.REST_FRAMEWORK's EXCEPTION_HANDLER: infra.errors' answers, and for a GET on a
    command endpoint, where its reads live."""
    response = errors.exception_handler(exc, context)
    if response is not None and isinstance(exc, MethodNotAllowed):
        reads = _reads(context)
        if reads is not None:
            response.data = reads
    return response


def _reads(context) -> dict | None:
    request, view = context.get("request"), context.get("view")
    url = reads_url(request) if request is not None else None
    if url is None:
        return None
    allowed = ", ".join(m for m in view.allowed_methods if m != "OPTIONS")
    path = urlsplit(url).path
    return errors.error_body(
        f"{request.path} takes commands only ({allowed}); nothing is read here. "
        f"Read it from the report at {path}.",
        "method_not_allowed",
        reads=url,
    )
