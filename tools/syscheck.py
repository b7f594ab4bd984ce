"""Fail early, with the Debian package to install, when a system library is missing.

Runs with the system Python before the virtual environment exists, so it uses only
the standard library.
"""

import ctypes.util
import sys

REQUIRED = {
    "pango-1.0": "libpango-1.0-0",
    "pangoft2-1.0": "libpangoft2-1.0-0",
}
RECOMMENDED = {
    "harfbuzz-subset": "libharfbuzz-subset0",
}


def missing_packages() -> list[str]:
    """The Debian packages of the required and recommended libraries that are not found."""
    wanted = {**REQUIRED, **RECOMMENDED}
    return [pkg for lib, pkg in wanted.items() if ctypes.util.find_library(lib) is None]


def main() -> int:
    """Check the Python version and the libraries WeasyPrint loads."""
    if sys.argv[1:] == ["--missing-packages"]:  # for .ci/run: what apt-get should install
        print(" ".join(missing_packages()))
        return 0
    problems = []
    if sys.version_info < (3, 11):  # noqa: UP036  (runs before the venv exists)
        problems.append(f"Python 3.11 or newer is needed, this is {sys.version.split()[0]}")
    missing = [pkg for lib, pkg in REQUIRED.items() if ctypes.util.find_library(lib) is None]
    if missing:
        problems.append("WeasyPrint needs Pango. Install it with:\n"
                        f"    sudo apt-get install {' '.join(missing)}")
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    slow = [pkg for lib, pkg in RECOMMENDED.items() if ctypes.util.find_library(lib) is None]
    if slow:
        print("warning: certificates render about 100x slower without HarfBuzz's subsetter; "
              f"install it with: sudo apt-get install {' '.join(slow)}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
