"""If-Match for order commands: the version the client last saw (optimistic concurrency).

The order's ETag is its version, `"<version>"`. If-Match follows RFC 9110 (13.1.1): a list of
entity tags, compared strongly: a weak tag (`W/"3"`) never matches, tags are opaque (`"03"` is not
`"3"`), and a well-formed tag that matches no version is a failed precondition (412), not a
malformed header (400). `*` matches any current order. A bare version (`3`), which is not an entity
tag, is still accepted as `"3"`.
"""

import re

from rest_framework.exceptions import ValidationError

_OWS = r"[ \t]*"
_TAG = r'(?:W/)?"[\x21\x23-\x7e]*"'
# The whole header: `*`, a bare version, or a list of entity tags (RFC 9110 5.6.1: empty elements
# allowed, at least one tag). The schema declares exactly this (orders/api/schema.py).
IF_MATCH_PATTERN = (
    rf"^{_OWS}(?:\*|[1-9][0-9]{{0,8}}|(?:,{_OWS})*{_TAG}(?:{_OWS},(?:{_OWS}{_TAG})?)*){_OWS}$"
)
_HEADER = re.compile(IF_MATCH_PATTERN)
_TAGS = re.compile(r'(W/)?"([\x21\x23-\x7e]*)"')
_VERSION = re.compile(r"[1-9][0-9]{0,8}")
_MALFORMED = 'Expected a list of entity tags such as If-Match: "3".'


def expected_version(request) -> frozenset[int] | None:
    """The versions If-Match accepts (empty: none can match); None when absent or `*`."""
    header = request.headers.get("If-Match")
    if header is None:
        return None
    if not _HEADER.match(header):
        raise ValidationError({"If-Match": _MALFORMED})
    value = header.strip(" \t")
    if value == "*":
        return None
    if _VERSION.fullmatch(value):
        return frozenset({int(value)})
    return frozenset(
        int(opaque)
        for weak, opaque in _TAGS.findall(value)
        if not weak and _VERSION.fullmatch(opaque)
    )


def version_etag(version: int) -> str:
    return f'"{version}"'
