"""URL converters: integer ids in paths are bounded to what the database's id columns hold."""

from typing import Any

from werkzeug.routing import IntegerConverter, Map

MAX_ID = 2**31 - 1


class IdConverter(IntegerConverter):
    """`<int:...>` that refuses (404) numbers no id column holds, instead of a database error."""

    def __init__(self, url_map: Map, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(url_map, **kwargs)
