"""Request parsers: JSON that cannot be a valid request is a 400 parse error, never a 500."""

from rest_framework import parsers
from rest_framework.exceptions import ParseError

# No request body of this API nests deeper than a few levels; anything far deeper is refused before
# any code walks it recursively (the JSON decoder, the Idempotency-Key fingerprint, the renderer).
MAX_JSON_DEPTH = 32


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:  # the decoder's own limit (~1000 levels)
            raise ParseError(
                f"JSON parse error - nested deeper than {MAX_JSON_DEPTH} levels."
            ) from None
        if _depth_exceeds(data, MAX_JSON_DEPTH):
            raise ParseError(f"JSON parse error - nested deeper than {MAX_JSON_DEPTH} levels.")
        return data


def _depth_exceeds(data, limit: int) -> bool:
    """Iterative, so that measuring the depth cannot itself recurse too deeply."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth > limit:
                return True
            children = value.values() if isinstance(value, dict) else value
            stack.extend((child, depth + 1) for child in children)
    return False
