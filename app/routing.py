"""URL converters: integer ids in paths are bounded to what the database's id columns hold."""

from typing import Any

from werkzeug.routing import IntegerConverter, Map

MAX_ID = 2**31 - 1


def numbers_up_to(limit: int) -> str:
    """A regular expression matching the whole numbers 0..limit, written without leading zeros."""
    digits = str(limit)
    shorter = ["0"] + ([rf"[1-9]\d{{0,{len(digits) - 2}}}"] if len(digits) > 1 else [])
    same_length = []
    for position, digit in enumerate(digits):
        lowest = 1 if position == 0 else 0
        if int(digit) > lowest:
            rest = len(digits) - position - 1
            same_length.append(f"{digits[:position]}[{lowest}-{int(digit) - 1}]"
                               + (rf"\d{{{rest}}}" if rest else ""))
    return "(?:" + "|".join(shorter + same_length + [digits]) + ")"


class IdConverter(IntegerConverter):
    """`<int:...>` that refuses (404) numbers no id column holds, instead of a database error.

    The bound is in the pattern, not only in the conversion: a number that fails conversion
    after its path matched is reported by werkzeug as 405 when another rule has the same path
    with other methods (PUT /api/v1/reviews/2147483648 answered 405 Allow: GET).
    """

    regex = numbers_up_to(MAX_ID)

    def __init__(self, url_map: Map, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(url_map, **kwargs)
