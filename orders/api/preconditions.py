"""If-Match for order commands: the version the client last saw (optimistic concurrency)."""

import re

from rest_framework.exceptions import ValidationError

_ETAG = re.compile(r'^\s*(?:W/)?(?:"([0-9]{1,9})"|([0-9]{1,9}))\s*$')


def expected_version(request) -> int | None:
    """The version in If-Match (`"3"`, `3` or `W/"3"`); None when absent or `*`."""
    header = request.headers.get("If-Match")
    if header is None or header.strip() == "*":
        return None
    match = _ETAG.match(header)
    if not match:
        raise ValidationError({"If-Match": 'Expected the order version, e.g. If-Match: "3".'})
    return int(match.group(1) or match.group(2))


def version_etag(version: int) -> str:
    return f'"{version}"'
