"""If-Match for order commands: the version the client last saw (optimistic concurrency).

The order's ETag is its version, `"<version>"`. If-Match follows RFC 9110 (13.1.1): a list of
entity tags, compared strongly: a weak tag (`W/"3"`) never matches, tags are opaque (`"03"` is not
`"3"`), and a well-formed tag that matches no version is a failed precondition (412), not a
malformed header (400). `*` matches any current order. A bare version (`3`), which is not an entity
tag, is still accepted as `"3"`.
"""

import re

from rest_framework.exceptions import ValidationError

_ELEMENT = re.compile(r'[ \t]*(?:(W/)?"([\x21\x23-\x7e\x80-\xff]*)")?[ \t]*(?:,|$)')
_BARE_VERSION = re.compile(r"^\s*([1-9][0-9]{0,8})\s*$")
_VERSION = re.compile(r"[1-9][0-9]{0,8}")
_MALFORMED = 'Expected a list of entity tags such as If-Match: "3".'


def expected_version(request) -> frozenset[int] | None:
    """The versions If-Match accepts (empty: none can match); None when absent or `*`."""
    header = request.headers.get("If-Match")
    if header is None or header.strip() == "*":
        return None
    bare = _BARE_VERSION.match(header)
    if bare:
        return frozenset({int(bare.group(1))})
    versions, position, tags = set(), 0, 0
    while position < len(header):
        element = _ELEMENT.match(header, position)
        if not element or element.end() == position:
            raise ValidationError({"If-Match": _MALFORMED})
        weak, opaque = element.group(1), element.group(2)
        if opaque is not None:
            tags += 1
            if not weak and _VERSION.fullmatch(opaque):
                versions.add(int(opaque))
        position = element.end()
    if not tags:
        raise ValidationError({"If-Match": _MALFORMED})
    return frozenset(versions)


def version_etag(version: int) -> str:
    return f'"{version}"'
