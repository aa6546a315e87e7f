"""Where the reads of each command endpoint live: a GET on a command answers 405 with the link.

Commands and queries are separate here: a command endpoint never answers GET. Rather than a bare
405, the API's exception handler (`exception_handler` below: infra.errors' handler, plus this)
names the report that serves what the client was looking for: the report's row when the
command's URL carries the report's key (`/api/orders/7/pay/` -> `/api/reports/orders/7/`), its list
otherwise. It lives in the composition root because it ties the command side to the read side.
"""

from urllib.parse import urlsplit

from rest_framework.exceptions import MethodNotAllowed
from rest_framework.reverse import reverse

from infra import errors
from orders.services import TRANSITIONS
from reporting.catalog import report_get

# Command URL name -> the catalog report that serves its reads.
READS = {
    "customer-create": "customer_stats",
    "customer-update": "customer_stats",
    "product-create": "product_sales",
    "product-update": "product_sales",
    "order-create": "order_summary",
    "order-line-add": "order_summary",
    "order-line": "order_summary",
    **{f"order-{command}": "order_summary" for command in TRANSITIONS},
}
READ_METHODS = ("GET", "HEAD")


def reads_url(request) -> str | None:
    """The absolute URL of the report that serves this command endpoint's reads, if any."""
    match = request.resolver_match
    if request.method not in READ_METHODS or match is None or match.url_name not in READS:
        return None
    report = report_get(READS[match.url_name])
    if report.key in match.kwargs:
        name, kwargs = f"report-{report.route}-detail", {report.key: match.kwargs[report.key]}
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
