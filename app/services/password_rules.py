"""What makes a new password acceptable (ASVS 5.0 V6.2): a length, and not a guessable word.

No composition rules (digits, capitals, symbols) — they make passwords harder to remember
without making them harder to guess. Instead a new password is refused when it is one of the
30,000 most common passwords in published leaks (the list shipped with zxcvbn), one of the
passwords most common in Chinese leaks, or, letters and digits aside, the user's own name or
a word of this application's context.
"""

from __future__ import annotations

import re
from functools import cache

MIN_LENGTH = 8
MAX_LENGTH = 200  # long passphrases welcome; bounded only so a hash is never fed megabytes

# Common in Chinese password leaks, and the words of this application's context (ASVS 6.1.2):
# compared after lower-casing and dropping digits, spaces and punctuation.
CONTEXT_WORDS = frozenset({
    "pingshen", "评审", "admin", "administrator", "password", "mima", "密码", "jiaoyu", "教育",
    "jiaoyuju", "教育局", "shequ", "社区", "laonian", "老年", "kaifang", "kaifangdaxue",
    "woaini", "wpxwpx", "qwerty", "qwertyuiop", "asdfgh", "asdfghjkl", "zxcvbn", "zxcvbnm",
    "qazwsx", "abc", "abcd", "abcdef", "aaaaaa", "a", "aa", "qq", "wang", "zhang", "li", "liu",
    "chen", "yang", "huang", "zhao", "zhou", "wu", "changzhou", "jiangsu", "nanjing", "suzhou",
})
# Whole passwords common in Chinese leaks that the list above does not already catch.
COMMON_CHINESE = frozenset({
    "5201314", "1314520", "woaini1314", "a123456", "123456a", "a12345678", "aa123456",
    "qq123456", "abc123456", "123456abc", "1qaz2wsx", "1q2w3e4r", "q1w2e3r4", "123qwe",
    "qwe123", "123qweasd", "zxc123456", "iloveyou", "88888888", "11223344", "147258369",
    "159357", "123321", "110110", "7758521", "147258", "5211314", "1314521",
})
LETTERS = re.compile(r"[\W\d_]+", re.UNICODE)


def password_problem(password: str, username: str = "", name: str = "") -> str | None:
    """Why ``password`` may not be set ("too_short", "too_long", "common", "guessable"), or
    None when it may."""
    if len(password) < MIN_LENGTH:
        return "too_short"
    if len(password) > MAX_LENGTH:
        return "too_long"
    lowered = password.lower()
    if lowered in _common() or lowered in COMMON_CHINESE:
        return "common"
    letters = LETTERS.sub("", lowered)
    own = {LETTERS.sub("", word.lower()) for word in (username, name)} - {""}
    if letters in CONTEXT_WORDS or letters in own:
        return "guessable"
    if not letters and len(password) < 12:  # dates, phone and ID fragments
        return "guessable"
    return None


@cache
def _common() -> frozenset[str]:
    """The 30,000 most common leaked passwords, as zxcvbn ships them."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])
