"""A small strict checker for YAML mappings: unknown keys, types and paths in every message."""

from __future__ import annotations

import re
from typing import Any

IDENT = re.compile(r"[a-z][a-z0-9_]{0,63}")


# A long text folded over lines with `>-` gets a space where each line break was; between two
# Chinese characters (or full-width punctuation) that space is not part of the text.
FOLDED_CJK = re.compile(r"(?<=[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]) "
                        r"(?=[\u3000-\u303f\u3400-\u9fff\uff00-\uffef])")

class Checker:
    """Collects problems for one file; every message names the file and the field path."""

    def __init__(self, filename: str, problems: list[str]) -> None:
        self.filename = filename
        self.problems = problems

    def error(self, path: str, message: str) -> None:
        """Record one problem at `path`."""
        where = f"{self.filename}: {path}" if path else self.filename
        self.problems.append(f"{where}: {message}")

    def mapping(
        self, value: Any, path: str, required: set[str], optional: set[str]
    ) -> dict[str, Any]:
        """Check that `value` is a mapping with the required keys and no unknown ones."""
        if not isinstance(value, dict):
            self.error(path, f"must be a mapping, got {type(value).__name__}")
            return {}
        for key in sorted(required - value.keys()):
            self.error(_join(path, key), "is required")
        for key in sorted(value.keys() - required - optional, key=str):
            allowed = ", ".join(sorted(required | optional))
            self.error(_join(path, str(key)), f"unknown key (allowed: {allowed})")
        return value

    def ident(self, value: Any, path: str) -> str | None:
        """Check a machine name: lower case letters, digits and underscores."""
        if not isinstance(value, str) or not IDENT.fullmatch(value):
            self.error(path, "must be a name of a-z, 0-9 and _ starting with a letter, "
                             f"got {value!r}")
            return None
        return value

    def text(self, value: Any, path: str, *, max_length: int = 500) -> str | None:
        """Check a non-empty string (a missing key was already reported by `mapping`)."""
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            self.error(path, f"must be a non-empty text, got {value!r}")
            return None
        if len(value) > max_length:
            self.error(path, f"must be at most {max_length} characters")
            return None
        return value

    def integer(self, value: Any, path: str, *, minimum: int | None = None) -> int | None:
        """Check an integer (booleans are not integers here)."""
        if not isinstance(value, int) or isinstance(value, bool):
            self.error(path, f"must be an integer, got {value!r}")
            return None
        if minimum is not None and value < minimum:
            self.error(path, f"must be at least {minimum}")
            return None
        return value

    def number(self, value: Any, path: str) -> float | None:
        """Check an integer or decimal number."""
        if not isinstance(value, int | float) or isinstance(value, bool):
            self.error(path, f"must be a number, got {value!r}")
            return None
        return value

    def boolean(self, value: Any, path: str) -> bool | None:
        """Check true/false."""
        if not isinstance(value, bool):
            self.error(path, f"must be true or false, got {value!r}")
            return None
        return value

    def sequence(self, value: Any, path: str, *, min_items: int = 0) -> list[Any]:
        """Check a list with at least `min_items` entries."""
        if not isinstance(value, list):
            self.error(path, f"must be a list, got {type(value).__name__}")
            return []
        if len(value) < min_items:
            self.error(path, f"must have at least {min_items} item(s)")
        return value

    def one_of(self, value: Any, path: str, allowed: list[str] | set[str]) -> str | None:
        """Check that `value` is one of `allowed`."""
        if not isinstance(value, str) or value not in allowed:
            options = ", ".join(sorted(allowed))
            self.error(path, f"must be one of {options}, got {value!r}")
            return None
        return str(value)


    def optional_text(self, doc: dict[str, Any], key: str, path: str) -> str:
        """Read an optional free-text key: a string when present, '' when absent."""
        value = doc.get(key, "")
        if not isinstance(value, str):
            self.error(_join(path, key), f"must be a text, got {value!r}")
            return ""
        return FOLDED_CJK.sub("", value)

    def known(self, value: Any, path: str, names: Any, what: str) -> bool:
        """Check that `value` is a name found in `names` (a dict or set of names)."""
        if isinstance(value, str) and value in names:
            return True
        self.error(path, f"unknown {what} {value!r}")
        return False


def _join(path: str, key: str) -> str:
    """Append a key to a dotted path."""
    return f"{path}.{key}" if path else key
