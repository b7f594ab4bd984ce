"""Render certificate PDFs (A4 landscape, Chinese) with WeasyPrint and bundled fonts only.

WeasyPrint is imported lazily: importing this module is cheap and works without Pango, so
``check_system_libraries`` can report a broken machine instead of crashing the import.
Rendering is serialised by a lock because the reused FontConfiguration (Pango/fontconfig)
is shared; use processes, not threads, to render in parallel.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import datetime
import functools
import logging
import math
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import qrcode
from fontTools.ttLib import TTFont
from jinja2 import FileSystemLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

LOGGER = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
FONT_DIR = HERE / "fonts"
FONT_SCHEME = "pingshen-font"  # private URL scheme: the only thing the fetcher serves


@dataclass(frozen=True)
class FontFace:
    """One bundled font file and the CSS family/weight it is registered under."""

    family: str
    file: str
    weight: int = 400


# In priority order. Text is set in the families in this order, and the glyph check accepts a
# character when any face has it, so a fuller fallback font is one more entry (new family).
FONT_FACES: tuple[FontFace, ...] = (
    FontFace("Pingshen Serif", "NotoSerifSC-Regular.ttf", 400),
    FontFace("Pingshen Serif", "NotoSerifSC-Bold.ttf", 700),
    # Rare name characters (CJK Extensions B-D) that Noto Serif SC lacks, e.g. 𠇔.
    FontFace("Pingshen Rare", "HanaMinB-ExtB-D.ttf", 400),
)
SUBTITLES = {
    "荣誉证书": "CERTIFICATE OF HONOR",
    "获奖证书": "CERTIFICATE OF AWARD",
    "结项证书": "CERTIFICATE OF COMPLETION",
}
MAX_ISSUERS = 3
DIGITS = "〇一二三四五六七八九"


@dataclass(frozen=True)
class CertificateFacts:
    """Everything printed on one certificate."""

    serial: str
    code: str
    holder: str
    organisation: str
    programme_title: str
    call_title: str
    award: str
    issuer: str
    issued_on: datetime.date
    verify_url: str
    # The paragraphs under the holder's name, placeholders already filled in.
    text: tuple[str, ...]
    title: str = "荣誉证书"

    @property
    def issuers(self) -> list[str]:
        """Return the non-empty issuer lines."""
        return [line.strip() for line in self.issuer.splitlines() if line.strip()]


class MissingGlyphError(ValueError):
    """A field holds characters that no bundled font can draw."""

    def __init__(self, chars: tuple[str, ...]) -> None:
        self.chars = chars
        listed = "、".join(f"{c} (U+{ord(c):04X})" for c in chars)
        super().__init__(f"字体中缺少以下字符，无法生成证书：{listed}")


class ResourceRefusedError(PermissionError):
    """The renderer was asked to load something other than a bundled font."""


def chinese_date(d: datetime.date) -> str:
    """Return ``d`` in Chinese numerals, e.g. 二〇二六年六月八日."""
    year = "".join(DIGITS[int(c)] for c in str(d.year))
    return f"{year}年{_chinese_number(d.month)}月{_chinese_number(d.day)}日"


def _chinese_number(n: int) -> str:
    """Return 1..99 in Chinese numerals (十, 十一, 二十, 三十一)."""
    tens, ones = divmod(n, 10)
    head = "" if tens == 0 else ("十" if tens == 1 else DIGITS[tens] + "十")
    return head + (DIGITS[ones] if ones else "")


@functools.cache
def _cmap(file: str) -> frozenset[int]:
    """Return the code points mapped by one bundled font file (read once)."""
    with TTFont(FONT_DIR / file, lazy=True) as font:
        return frozenset(font.getBestCmap())


def _covered() -> frozenset[int]:
    """Return the code points that at least one bundled font maps."""
    return frozenset().union(*(_cmap(face.file) for face in FONT_FACES))


def font_weight(text: str, wanted: int) -> int:
    """Return ``wanted`` if one face of that weight draws all of ``text``, else 400.

    Never let Pango fall back from the Bold face to the Regular face of the same family for
    some characters: WeasyPrint 70 keys PDF fonts by family+weight, so the two faces collide
    and the Bold glyph ids get drawn from the Regular font (garbled text).
    """
    if any(face.weight == wanted and all(ord(c) in _cmap(face.file) for c in text if
                                         not c.isspace()) for face in FONT_FACES):
        return wanted
    return 400


def check_glyphs(facts: CertificateFacts) -> None:
    """Raise MissingGlyphError if a printed field has a character no bundled font covers."""
    fields = (facts.holder, facts.organisation, facts.call_title, facts.award, facts.issuer,
              facts.programme_title, facts.title, facts.serial, facts.code, *facts.text)
    covered = _covered()
    missing = sorted({c for text in fields for c in text
                      if ord(c) not in covered and not c.isspace()})
    if missing:
        raise MissingGlyphError(tuple(missing))


def qr_svg_path(data: str) -> tuple[int, str]:
    """Return (size in modules, SVG path data) of a QR code for ``data``.

    One rectangle per horizontal run of dark modules: half the path commands of qrcode's
    SvgPathImage (one square per module), and SVG path parsing is WeasyPrint's hot spot.
    """
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=0)
    qr.add_data(data)
    qr.make(fit=True)
    parts = []
    for y, row in enumerate(qr.get_matrix()):
        x = 0
        while x < len(row):
            if not row[x]:
                x += 1
                continue
            start = x
            while x < len(row) and row[x]:
                x += 1
            parts.append(f"M{start} {y}h{x - start}v1h-{x - start}z")
    return qr.modules_count, "".join(parts)


def star_points(cx: float, cy: float, r: float) -> str:
    """Return the polygon points of a five-pointed star pointing up."""
    points = []
    for i in range(10):
        radius = r if i % 2 == 0 else r * 0.382
        angle = math.radians(-90 + 36 * i)
        points.append(f"{cx + radius * math.cos(angle):.2f},{cy + radius * math.sin(angle):.2f}")
    return " ".join(points)


def rosette_centres(count: int = 48, radius: float = 28) -> list[tuple[float, float]]:
    """Return the centres of the circles of the guilloche rosette (200x200 box)."""
    return [(round(100 + radius * math.cos(a), 2), round(100 + radius * math.sin(a), 2))
            for a in (2 * math.pi * i / count for i in range(count))]


def seal_glyphs(name: str) -> list[dict[str, Any]]:
    """Lay ``name`` clockwise along the top of a 200x200 seal: char, angle, y, scale, size."""
    weight = font_weight(name, 700)
    n = max(len(name), 1)
    size = 30.0
    baseline = 88.0 - 0.86 * size  # glyph tops stay inside the ring (inner edge ~90)
    span = min(math.radians(240), n * size * 1.2 / (baseline + size / 2))
    slot = span * (baseline + size / 2) / n  # arc length per character
    scale = min(1.0, slot * 0.92 / size)  # squeeze wide names horizontally, like real seals
    return [{"char": c, "angle": math.degrees(-span / 2 + span * (i + 0.5) / n),
             "y": 100 - baseline, "scale": round(scale, 3), "size": size, "weight": weight}
            for i, c in enumerate(name)]


def _families() -> list[str]:
    """Return the font families in priority order."""
    return list(dict.fromkeys(face.family for face in FONT_FACES))


def _check_url(url: str) -> None:
    """Raise ValueError unless ``url`` is an absolute http(s) URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"verify_url must be an absolute http(s) URL, got {url!r}")


_ROSETTE = rosette_centres()
_JINJA = SandboxedEnvironment(loader=FileSystemLoader(HERE / "templates"), autoescape=True,
                              undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def render_html(facts: CertificateFacts) -> str:
    """Return the certificate HTML for ``facts`` (checked, escaped, no external resources)."""
    _check_url(facts.verify_url)
    if not 1 <= len(facts.issuers) <= MAX_ISSUERS:
        raise ValueError(f"issuer must have 1 to {MAX_ISSUERS} lines, got {facts.issuer!r}")
    check_glyphs(facts)
    qr_size, qr_path = qr_svg_path(facts.verify_url)
    return _JINJA.get_template("certificate.html").render(
        facts=facts, date=chinese_date(facts.issued_on),
        subtitle=SUBTITLES.get(facts.title, "CERTIFICATE"),
        title_weight=font_weight(facts.title, 700),
        qr_size=qr_size, qr_path=qr_path, star=star_points(100, 100, 27), rosette=_ROSETTE,
        seals=[seal_glyphs(name) for name in facts.issuers], families=_families())


def resolve_font_url(url: str) -> Path:
    """Map ``pingshen-font:<file>`` to a bundled font; refuse every other URL."""
    allowed = {f"{FONT_SCHEME}:{face.file}": FONT_DIR / face.file for face in FONT_FACES}
    if url not in allowed:
        raise ResourceRefusedError(
            f"certificate renderer refused to load {url[:200]!r}: only bundled fonts may be "
            "loaded (no files, no network, no data: URLs, no redirects)")
    return allowed[url]


@dataclass
class _Engine:
    """WeasyPrint objects built once per process and reused by every render."""

    font_config: Any
    css: Any
    fetcher: Any


_ENGINE: _Engine | None = None
_ENGINE_LOCK = threading.Lock()
_RENDER_LOCK = threading.Lock()


class _Collect(logging.Handler):
    """Keep the messages of WeasyPrint's warnings and errors."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        """Store the formatted message."""
        self.messages.append(record.getMessage())


@contextlib.contextmanager
def _weasyprint_messages() -> Iterator[list[str]]:
    """Collect WeasyPrint's warnings and errors (library use shows no logs by default)."""
    logger = logging.getLogger("weasyprint")
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.WARNING)
    handler = _Collect()
    logger.addHandler(handler)
    try:
        yield handler.messages
    finally:
        logger.removeHandler(handler)


def _build_engine() -> _Engine:
    """Import WeasyPrint and build the font configuration, fetcher and parsed CSS."""
    from weasyprint import CSS
    from weasyprint.text.fonts import FontConfiguration
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class BundledFontFetcher(URLFetcher):  # type: ignore[misc]
        """Serve the bundled fonts; refuse files, network, data: URLs and redirects."""

        def __init__(self) -> None:
            super().__init__(allow_redirects=False, fail_on_errors=True)

        def fetch(self, url: str, headers: object = None) -> URLFetcherResponse:
            """Return the font behind ``url`` or raise ResourceRefusedError."""
            body = resolve_font_url(url).read_bytes()
            return URLFetcherResponse(url, body, {"Content-Type": "font/ttf"})

    fetcher = BundledFontFetcher()
    font_config = FontConfiguration()
    css_text = _JINJA.get_template("certificate.css").render(
        faces=FONT_FACES, scheme=FONT_SCHEME, families=_families())
    with _weasyprint_messages() as messages:
        css = CSS(string=css_text, font_config=font_config, url_fetcher=fetcher)
    if messages:  # a CSS typo or a font that failed to load: fail loudly, once
        raise RuntimeError("certificate stylesheet or fonts failed: " + "; ".join(messages))
    return _Engine(font_config, css, fetcher)


def _engine() -> _Engine:
    """Return the process-wide engine, building it on first use."""
    global _ENGINE
    with _ENGINE_LOCK:
        if _ENGINE is None:
            _ENGINE = _build_engine()
            atexit.register(_drop_engine)
        return _ENGINE


def _drop_engine() -> None:
    """Release the font configuration while its C libraries are still loaded (at exit)."""
    global _ENGINE
    _ENGINE = None


def warm_up() -> None:
    """Import WeasyPrint and load the fonts and stylesheet now (a worker process at start)."""
    _engine()


def url_fetcher() -> Any:
    """Return the URL fetcher every render uses (it serves only the bundled fonts)."""
    return _engine().fetcher


def render_certificate(facts: CertificateFacts) -> bytes:
    """Return a one-page A4 landscape PDF for ``facts``."""
    from weasyprint import HTML
    from weasyprint.urls import FatalURLFetchingError

    html = render_html(facts)
    engine = _engine()
    with _RENDER_LOCK, _weasyprint_messages() as messages:
        try:
            document = HTML(string=html, url_fetcher=engine.fetcher).render(
                font_config=engine.font_config, stylesheets=[engine.css])
            pdf = document.write_pdf()
        except FatalURLFetchingError as exc:  # a BaseException: hand back the Exception
            raise (exc.__cause__ or ResourceRefusedError(str(exc))) from None
    for message in messages:
        LOGGER.warning("weasyprint: %s (certificate %s)", message, facts.serial)
    if len(document.pages) != 1:
        raise RuntimeError(f"certificate {facts.serial} laid out on {len(document.pages)} pages")
    return pdf


def render_print_run(facts: list[CertificateFacts]) -> bytes:
    """Return one multi-page PDF with a page per certificate, in the order given (print shop).

    Each certificate is laid out as usual, with the shared fonts and stylesheet; the pages are
    then written as one document, so fonts are embedded once for the whole run.
    """
    from weasyprint import HTML
    from weasyprint.urls import FatalURLFetchingError

    if not facts:
        raise ValueError("a print run needs at least one certificate")
    engine = _engine()
    documents = []
    with _RENDER_LOCK, _weasyprint_messages() as messages:
        try:
            for item in facts:
                document = HTML(string=render_html(item), url_fetcher=engine.fetcher).render(
                    font_config=engine.font_config, stylesheets=[engine.css])
                if len(document.pages) != 1:
                    raise RuntimeError(f"certificate {item.serial} laid out on "
                                       f"{len(document.pages)} pages")
                documents.append(document)
            pages = [page for document in documents for page in document.pages]
            pdf = documents[0].copy(pages).write_pdf()
        except FatalURLFetchingError as exc:
            raise (exc.__cause__ or ResourceRefusedError(str(exc))) from None
    for message in messages:
        LOGGER.warning("weasyprint: %s (print run of %d)", message, len(facts))
    return pdf


# (library file names tried, required?, Debian package)
_LIBRARIES = (
    (("libpango-1.0.so.0", "libpango-1.0.dylib"), True, "libpango-1.0-0"),
    (("libpangoft2-1.0.so.0", "libpangoft2-1.0.dylib"), True, "libpangoft2-1.0-0"),
    (("libfontconfig.so.1", "libfontconfig.1.dylib"), True, "libfontconfig1"),
    (("libharfbuzz.so.0", "libharfbuzz.0.dylib"), True, "libharfbuzz0b"),
    (("libharfbuzz-subset.so.0", "libharfbuzz-subset.0.dylib"), False, "libharfbuzz-subset0"),
)


def check_system_libraries() -> list[str]:
    """Return human-readable problems with the libraries and fonts rendering needs."""
    problems = []
    for names, required, package in _LIBRARIES:
        if _load(names) is not None:
            continue
        if required:
            problems.append(f"error: cannot load {names[0]}; certificates cannot be rendered "
                            f"(apt-get install {package})")
        else:
            problems.append(f"warning: cannot load {names[0]}; WeasyPrint falls back to a slow "
                            f"pure-Python font subsetter, ~15 s per certificate "
                            f"(apt-get install {package})")
    harfbuzz = _load(("libharfbuzz.so.0", "libharfbuzz.0.dylib"))
    if harfbuzz is not None and not harfbuzz.hb_version_atleast(4, 1, 0):
        problems.append("warning: HarfBuzz is older than 4.1.0; WeasyPrint ignores its subsetter "
                        "and uses the slow pure-Python one")
    problems += [f"error: bundled font missing: {FONT_DIR / face.file}"
                 for face in FONT_FACES if not (FONT_DIR / face.file).is_file()]
    return problems


def _load(names: tuple[str, ...]) -> ctypes.CDLL | None:
    """Return the first of the shared libraries ``names`` that loads, or None."""
    for name in names:
        try:
            return ctypes.CDLL(name)
        except OSError:
            continue
    return None
