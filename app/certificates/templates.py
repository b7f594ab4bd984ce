"""Certificate templates: HTML with named fields, its CSS and its images, kept as data.

A shipped template is a folder of ``templates/``: ``template.html`` (Jinja, rendered sandboxed),
``style.css``, ``about.yaml`` (name, name_en, description) and optional ``assets/`` (PNG, JPEG or
SVG images, referenced from the HTML or CSS as ``asset:<file name>``). Administrators can store
edited or new templates in the database (app/services/certificate_templates.py); a stored template
with the key of a shipped one replaces it.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
DEFAULT_TEMPLATE = "landscape"
KEY_PATTERN = re.compile(r"[a-z][a-z0-9_-]{1,39}")
ASSET_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}\.(png|jpe?g|svg)")
ASSET_TYPES = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg",
               "svg": "image/svg+xml"}


@dataclass(frozen=True)
class CertificateTemplate:
    """One certificate layout: its HTML, CSS and images."""

    key: str
    name: str
    html: str
    css: str
    assets: tuple[tuple[str, bytes], ...] = ()
    name_en: str = ""
    description: str = ""
    shipped: bool = False

    @functools.cached_property
    def fingerprint(self) -> str:
        """A hash of everything that changes the output (caches key on it)."""
        digest = hashlib.sha256()
        for part in (self.key, self.html, self.css):
            digest.update(part.encode("utf-8") + b"\0")
        for name, body in self.assets:
            digest.update(name.encode("utf-8") + b"\0" + hashlib.sha256(body).digest())
        return digest.hexdigest()[:32]

    def asset(self, name: str) -> bytes | None:
        """The image called ``name``, if the template has one."""
        return dict(self.assets).get(name)


def asset_type(name: str) -> str:
    """The media type of an asset file name."""
    return ASSET_TYPES[name.rsplit(".", 1)[-1].lower()]


@functools.cache
def shipped_templates() -> dict[str, CertificateTemplate]:
    """The templates that come with Pingshen, by key (read once)."""
    templates = {}
    for folder in sorted(p for p in TEMPLATE_DIR.iterdir() if p.is_dir()):
        about = yaml.safe_load((folder / "about.yaml").read_text(encoding="utf-8"))
        assets = tuple(sorted((p.name, p.read_bytes()) for p in (folder / "assets").glob("*")
                              if ASSET_PATTERN.fullmatch(p.name))) \
            if (folder / "assets").is_dir() else ()
        templates[folder.name] = CertificateTemplate(
            key=folder.name, name=about["name"], name_en=about.get("name_en", ""),
            description=about.get("description", ""),
            html=(folder / "template.html").read_text(encoding="utf-8"),
            css=(folder / "style.css").read_text(encoding="utf-8"), assets=assets, shipped=True)
    return templates
