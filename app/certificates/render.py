"""Render certificate PDFs (Chinese) from a template with WeasyPrint and bundled fonts only.

A template (see templates.py) is HTML with named fields and its own CSS and images. It is rendered
by Jinja's sandboxed environment with autoescape and StrictUndefined, and WeasyPrint's URL
fetcher serves only the bundled fonts, the template's own images (``asset:<name>``) and the
issuers' seal images (``seal:<hash>``): no files, no network, no data: URLs, no redirects.

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
import hashlib
import logging
import math
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import qrcode
from fontTools.ttLib import TTFont
from jinja2 import StrictUndefined, TemplateError
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup, escape

from app.certificates.templates import (
    DEFAULT_TEMPLATE,
    CertificateTemplate,
    asset_type,
    shipped_templates,
)

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
class IssuerMark:
    """An issuer's uploaded seal (a transparent PNG) and signature line."""

    issuer: str
    image: bytes | None = None
    signature: str = ""

    @functools.cached_property
    def url(self) -> str | None:
        """The private URL the template's HTML gets for the seal image (hashed once)."""
        return f"seal:{hashlib.sha256(self.image).hexdigest()[:32]}" if self.image else None


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
    # The title the programme confers (its certificate `award`), also when a level is printed
    # as `award` (e.g. a plaque says 示范性社区教育中心 whatever the grade); "" means `award`.
    designation: str = ""
    # How it looks (None: the shipped landscape certificate) and the issuers' seals.
    template: CertificateTemplate | None = None
    marks: tuple[IssuerMark, ...] = field(default=())

    @property
    def issuers(self) -> list[str]:
        """Return the non-empty issuer lines."""
        return [line.strip() for line in self.issuer.splitlines() if line.strip()]

    @property
    def layout(self) -> CertificateTemplate:
        """The template to render with."""
        return self.template or shipped_templates()[DEFAULT_TEMPLATE]


class MissingGlyphError(ValueError):
    """A field holds characters that no bundled font can draw."""

    def __init__(self, chars: tuple[str, ...]) -> None:
        self.chars = chars
        listed = "、".join(f"{c} (U+{ord(c):04X})" for c in chars)
        super().__init__(f"字体中缺少以下字符，无法生成证书：{listed}")


class ResourceRefusedError(PermissionError):
    """The renderer was asked to load something other than a bundled font or an image of the
    template or of a seal."""


class CertificateTemplateError(ValueError):
    """A template that cannot be rendered: unknown field, syntax error, forbidden access."""

    def __init__(self, template: str, detail: str) -> None:
        self.template, self.detail = template, detail
        super().__init__(f"证书模板“{template}”有误：{detail}")


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
              facts.programme_title, facts.title, facts.serial, facts.code, *facts.text,
              *(mark.signature for mark in facts.marks))
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


# Uploaded templates are data from administrators: sandboxed (no attribute escapes), every value
# escaped, and a field the template names but the certificate lacks is an error, never a blank.
_SANDBOX = SandboxedEnvironment(autoescape=True, undefined=StrictUndefined, trim_blocks=True,
                                lstrip_blocks=True)
_RED = "#c0141c"


def _compiled(template: CertificateTemplate) -> Any:
    """The template's HTML compiled by the sandbox, once per template version (a stored
    template is a new object for every certificate; its fingerprint is the same)."""
    try:
        return _compile(template.fingerprint, template.html)
    except TemplateError as exc:
        raise CertificateTemplateError(template.name, _explain(exc)) from None


@functools.lru_cache(maxsize=32)
def _compile(fingerprint: str, html: str) -> Any:
    """Compile ``html`` (cached by the template's fingerprint)."""
    return _SANDBOX.from_string(html)


def _explain(exc: Exception) -> str:
    """A template error in words an administrator can act on."""
    message = str(getattr(exc, "message", None) or exc)
    if isinstance(exc, SecurityError):
        return f"模板试图访问不允许的内容（{message}）"
    if match := re.search(r"'([^']+)' is undefined|has no attribute '([^']+)'", message):
        name = match.group(1) or match.group(2)
        return f"使用了不存在的字段“{name}”（可用字段见 docs/certificates.md）"
    line = getattr(exc, "lineno", None)
    return (f"第 {line} 行：" if line else "") + message


def _seal_svg(name: str) -> Markup:
    """A drawn round seal with the issuer's name along the top (when no image is uploaded)."""
    families = escape(", ".join(_families()))
    glyphs = "".join(
        f'<text transform="rotate({g["angle"]:.2f} 100 100) translate(100 {g["y"]:.2f}) '
        f'scale({g["scale"]} 1)" x="0" y="0" text-anchor="middle" font-family="{families}" '
        f'font-weight="{g["weight"]}" font-size="{g["size"]}" fill="{_RED}" stroke="{_RED}" '
        f'stroke-width="0.8">{escape(g["char"])}</text>' for g in seal_glyphs(name))
    return Markup(
        '<svg class="seal" viewBox="0 0 200 200" xmlns="http://www.w3.org/2000/svg">'
        f'<circle cx="100" cy="100" r="93" fill="none" stroke="{_RED}" stroke-width="6"/>'
        f'<polygon points="{star_points(100, 100, 27)}" fill="{_RED}"/>{glyphs}</svg>')


def qr_svg(url: str) -> Markup:
    """The QR code of ``url`` as inline SVG."""
    size, path = qr_svg_path(url)
    return Markup(f'<svg class="qr-code" viewBox="0 0 {size} {size}" '
                  'xmlns="http://www.w3.org/2000/svg" shape-rendering="crispEdges">'
                  f'<path d="{path}" fill="#1d1712"/></svg>')


def chinese_month(d: datetime.date) -> str:
    """Return the month of ``d`` in Chinese numerals, e.g. 二〇二六年六月."""
    return chinese_date(d).split("月")[0] + "月"


def template_context(facts: CertificateFacts) -> dict[str, Any]:
    """The named fields a template can use (documented in docs/certificates.md)."""
    marks = {mark.issuer: mark for mark in facts.marks}
    issuers = []
    for name in facts.issuers:
        mark = marks.get(name, IssuerMark(name))
        seal = Markup(f'<img class="seal" src="{mark.url}" alt="">') if mark.url \
            else _seal_svg(name)
        issuers.append({"name": name, "seal": seal, "signature": mark.signature})
    return {
        "title": facts.title, "title_bold": font_weight(facts.title, 700) == 700,
        "subtitle": SUBTITLES.get(facts.title, "CERTIFICATE"),
        "holder": facts.holder, "organisation": facts.organisation,
        "programme": facts.programme_title, "call": facts.call_title, "award": facts.award,
        "designation": facts.designation or facts.award,
        "text": list(facts.text), "serial": facts.serial, "code": facts.code,
        "date": chinese_date(facts.issued_on), "month": chinese_month(facts.issued_on),
        "year": facts.issued_on.year, "verify_url": facts.verify_url,
        "qr": qr_svg(facts.verify_url), "issuers": issuers,
        "fonts": ", ".join(f'"{family}"' for family in _families()),
    }


def render_html(facts: CertificateFacts) -> str:
    """Return the certificate HTML for ``facts`` (checked, escaped, no external resources)."""
    _check_url(facts.verify_url)
    if not 1 <= len(facts.issuers) <= MAX_ISSUERS:
        raise ValueError(f"issuer must have 1 to {MAX_ISSUERS} lines, got {facts.issuer!r}")
    check_glyphs(facts)
    try:
        return str(_compiled(facts.layout).render(template_context(facts)))
    except TemplateError as exc:
        raise CertificateTemplateError(facts.layout.name, _explain(exc)) from None


def resolve_font_url(url: str) -> Path:
    """Map ``pingshen-font:<file>`` to a bundled font; refuse every other URL."""
    allowed = {f"{FONT_SCHEME}:{face.file}": FONT_DIR / face.file for face in FONT_FACES}
    if url not in allowed:
        raise ResourceRefusedError(_refusal(url))
    return allowed[url]


def _refusal(url: str) -> str:
    """The message for a URL the renderer will not load."""
    return (f"certificate renderer refused to load {url[:200]!r}: only bundled fonts and the "
            "template's own images may be loaded (no files, no network, no data: URLs, "
            "no redirects)")


@dataclass
class _Engine:
    """WeasyPrint objects built once per process and reused by every render."""

    font_config: Any
    css: Any
    fetcher: Any
    # Per template version: its parsed stylesheet and WeasyPrint's image cache.
    stylesheets: dict[str, Any] = field(default_factory=dict)
    images: dict[str, dict[str, Any]] = field(default_factory=dict)
    # The app's own document stylesheets (render_document), by their text.
    documents: dict[str, Any] = field(default_factory=dict)


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


def _base_css() -> str:
    """The fonts every template gets: @font-face rules and the default family."""
    faces = "\n".join(
        f'@font-face {{ font-family: "{face.family}"; src: url("{FONT_SCHEME}:{face.file}"); '
        f"font-weight: {face.weight}; }}" for face in FONT_FACES)
    families = ", ".join(f'"{family}"' for family in _families())
    return f"{faces}\nhtml {{ font-family: {families}; }}\n"


def _build_engine() -> _Engine:
    """Import WeasyPrint and build the font configuration, fetcher and parsed CSS."""
    from weasyprint import CSS
    from weasyprint.text.fonts import FontConfiguration
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class SandboxFetcher(URLFetcher):  # type: ignore[misc]
        """Serve the bundled fonts and the current render's images; refuse everything else."""

        def __init__(self) -> None:
            super().__init__(allow_redirects=False, fail_on_errors=True)
            self.images: dict[str, tuple[bytes, str]] = {}

        def fetch(self, url: str, headers: object = None) -> URLFetcherResponse:
            """Return the font or image behind ``url`` or raise ResourceRefusedError."""
            if url in self.images:
                body, media_type = self.images[url]
                return URLFetcherResponse(url, body, {"Content-Type": media_type})
            body = resolve_font_url(url).read_bytes()
            return URLFetcherResponse(url, body, {"Content-Type": "font/ttf"})

    fetcher = SandboxFetcher()
    font_config = FontConfiguration()
    with _weasyprint_messages() as messages:
        css = CSS(string=_base_css(), font_config=font_config, url_fetcher=fetcher)
    if messages:  # a font that failed to load: fail loudly, once
        raise RuntimeError("certificate fonts failed: " + "; ".join(messages))
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
    """Return the URL fetcher every render uses (bundled fonts, the render's own images)."""
    return _engine().fetcher


def _allow_images(engine: _Engine, facts: CertificateFacts) -> None:
    """Let the fetcher serve this certificate's template images and seal images, only."""
    template = facts.layout
    images = {f"asset:{name}": (body, asset_type(name)) for name, body in template.assets}
    images.update({mark.url: (mark.image, "image/png") for mark in facts.marks
                   if mark.url and mark.image})
    engine.fetcher.images = images


def _stylesheet(engine: _Engine, template: CertificateTemplate) -> Any:
    """The template's parsed CSS (parsed once per template version)."""
    from weasyprint import CSS

    css = engine.stylesheets.get(template.fingerprint)
    if css is None:
        if len(engine.stylesheets) > 32:
            engine.stylesheets.clear()
            engine.images.clear()
        css = engine.stylesheets[template.fingerprint] = CSS(
            string=template.css, font_config=engine.font_config, url_fetcher=engine.fetcher)
    return css


def _layout(engine: _Engine, facts: CertificateFacts) -> Any:
    """Lay out one certificate (call with the render lock held)."""
    from weasyprint import HTML

    html = render_html(facts)
    _allow_images(engine, facts)
    template = facts.layout
    document = HTML(string=html, url_fetcher=engine.fetcher).render(
        font_config=engine.font_config,
        stylesheets=[engine.css, _stylesheet(engine, template)],
        cache=engine.images.setdefault(template.fingerprint, {}))
    if len(document.pages) != 1:
        raise CertificateTemplateError(template.name, f"证书 {facts.serial} 排版后为 "
                                       f"{len(document.pages)} 页，应为 1 页（内容过多或版面过大）")
    return document


@contextlib.contextmanager
def _rendering(what: str) -> Iterator[_Engine]:
    """Hold the render lock, turn fetch refusals into ResourceRefusedError, log warnings."""
    from weasyprint.urls import FatalURLFetchingError

    engine = _engine()
    with _RENDER_LOCK, _weasyprint_messages() as messages:
        try:
            yield engine
        except FatalURLFetchingError as exc:  # a BaseException: hand back the Exception
            raise (exc.__cause__ or ResourceRefusedError(str(exc))) from None
        finally:
            engine.fetcher.images = {}
    for message in messages:
        LOGGER.warning("weasyprint: %s (%s)", message, what)


def render_certificate(facts: CertificateFacts) -> bytes:
    """Return the one-page PDF of ``facts`` in its template."""
    with _rendering(f"certificate {facts.serial}") as engine:
        return bytes(_layout(engine, facts).write_pdf())


def preview_certificate(facts: CertificateFacts) -> tuple[bytes, list[str]]:
    """Render ``facts`` and return the PDF with WeasyPrint's warnings (e.g. ignored CSS)."""
    with _weasyprint_messages() as messages:
        pdf = render_certificate(facts)
    return pdf, list(dict.fromkeys(messages))


def render_print_run(facts: list[CertificateFacts]) -> bytes:
    """Return one multi-page PDF with a page per certificate, in the order given (print shop).

    Each certificate is laid out as usual, with the shared fonts and stylesheets; the pages are
    then written as one document, so fonts are embedded once for the whole run.
    """
    if not facts:
        raise ValueError("a print run needs at least one certificate")
    with _rendering(f"print run of {len(facts)}") as engine:
        documents = [_layout(engine, item) for item in facts]
        pages = [page for document in documents for page in document.pages]
        return bytes(documents[0].copy(pages).write_pdf())


def render_document(html: str, css: str, what: str) -> bytes:
    """Return the PDF of a document of the app's own (e.g. a 申报书): ``html`` already escaped,
    laid out with the bundled fonts and ``css``; like certificates, it may load nothing else
    (no files, no network, no images: the fetcher refuses every URL but the fonts)."""
    from weasyprint import CSS, HTML

    with _rendering(what) as engine:
        sheet = engine.documents.get(css)
        if sheet is None:  # the app's few stylesheets, parsed once each
            sheet = engine.documents[css] = CSS(string=css, font_config=engine.font_config,
                                                  url_fetcher=engine.fetcher)
        document = HTML(string=html, url_fetcher=engine.fetcher).render(
            font_config=engine.font_config, stylesheets=[engine.css, sheet])
        return bytes(document.write_pdf())


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
