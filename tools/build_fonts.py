"""Build the CJK fonts bundled in app/certificates/fonts/ (by hand, never at runtime).

Source: Debian 12 package ``fonts-noto-cjk`` (version 1:20220127+repack1-1, Noto CJK 2.001),
files /usr/share/fonts/opentype/noto/NotoSerifCJK-{Regular,Bold}.ttc, face index 2 (the
Simplified Chinese "SC" face). Licence: SIL Open Font License 1.1 ("Noto" is not a reserved
font name; "Source" is, so the output keeps the Noto names). The licence text is written next
to the fonts as OFL.txt.

Character sets (see ``charset`` and FONTS). Both faces keep ASCII, Latin-1, general
punctuation, Roman numerals, circled numbers, CJK symbols and punctuation (incl. 〇) and fullwidth
forms. Regular (every variable field) adds every BMP character of GBK and the whole CJK Unified
Ideographs block U+4E00-U+9FFF (~21,000 hanzi; GBK has 喆, GB2312 does not): 22,328 characters,
9.6 MB. Bold (fixed headings such as 荣誉证书 only) adds GB2312: 7,949 characters, 2.9 MB.
Extensions A/B (e.g. 𠇔 U+201D4) are left out on purpose: rare characters belong in a fallback
font listed after these (see FONT_FILES in app/certificates/render.py).

Steps: fontTools subset (no hinting, only the ``kern`` feature, no vertical metrics), then the
CFF outlines are converted to TrueType quadratic outlines with cu2qu (max error 1 unit of 1000):
WeasyPrint/HarfBuzz subset TrueType fonts into much smaller PDFs and render ~2.5x faster.

Usage (on Debian 12, from the repository root):
    apt-get install fonts-noto-cjk
    .venv/bin/python tools/build_fonts.py
Then commit app/certificates/fonts/. The package can be removed again afterwards.
"""

from __future__ import annotations

import argparse
import gzip
import re
import sys
from pathlib import Path

from fontTools import subset
from fontTools.pens.cu2quPen import Cu2QuPen
from fontTools.pens.ttGlyphPen import TTGlyphPen
from fontTools.ttLib import TTFont, newTable

SOURCE_DIR = Path("/usr/share/fonts/opentype/noto")
COPYRIGHT_FILE = Path("/usr/share/doc/fonts-noto-cjk/copyright")
OUT_DIR = Path(__file__).resolve().parent.parent / "app" / "certificates" / "fonts"
SC_FACE_INDEX = 2  # JP, KR, SC, TC, HK in the Noto CJK collections
MAX_ERR = 1.0  # font units (UPM 1000)

# (source collection, output file, character set). The Regular face carries every variable
# field, so it gets the full set (9.6 MB); the Bold face only sets fixed headings such as
# 荣誉证书, so GB2312 (2.9 MB) keeps the total near 12.5 MB.
FONTS = [
    ("NotoSerifCJK-Regular.ttc", "NotoSerifSC-Regular.ttf", "gbk"),
    ("NotoSerifCJK-Bold.ttc", "NotoSerifSC-Bold.ttf", "gb2312"),
]

RANGES = [
    (0x0020, 0x007E),  # ASCII
    (0x00A0, 0x00FF),  # Latin-1 (·, ×, é ...)
    (0x2000, 0x206F),  # general punctuation (“ ” ‘ ’ — … ‧)
    (0x2100, 0x218F),  # letterlike symbols, Roman numerals (№ Ⅲ)
    (0x2460, 0x24FF),  # enclosed alphanumerics (① ⑴)
    (0x3000, 0x303F),  # CJK symbols and punctuation (、 。 〇 《 》 【 】)
    (0x4E00, 0x9FFF),  # CJK Unified Ideographs
    (0xFF00, 0xFFEF),  # fullwidth forms (， ： （ ）)
]


def charset(name: str) -> set[int]:
    """Return the code points to keep for the named character set ("gb2312" or "gbk")."""
    chars = {c for lo, hi in RANGES for c in range(lo, hi + 1)}
    if name == "gb2312":
        chars = {c for c in chars if c < 0x3400 or c > 0x9FFF}
    for c in range(0x80, 0x10000):
        try:
            chr(c).encode(name)
        except UnicodeEncodeError:
            continue
        chars.add(c)
    return chars


def subset_font(src: Path, unicodes: set[int]) -> TTFont:
    """Load the SC face of ``src`` and subset it to ``unicodes``."""
    font = TTFont(src, fontNumber=SC_FACE_INDEX, recalcTimestamp=False)
    options = subset.Options()
    options.layout_features = ["kern"]
    options.hinting = False
    options.desubroutinize = True
    options.notdef_outline = True
    options.name_IDs = ["*"]
    options.name_languages = ["*"]
    options.drop_tables += ["VORG", "vhea", "vmtx", "BASE", "DSIG"]
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=unicodes)
    subsetter.subset(font)
    return font


def cff_to_truetype(font: TTFont) -> None:
    """Replace the CFF outlines of ``font`` by quadratic TrueType outlines, in place."""
    glyph_order = font.getGlyphOrder()
    glyph_set = font.getGlyphSet()
    glyf = newTable("glyf")
    glyf.glyphOrder = glyph_order
    glyf.glyphs = {}
    for name in glyph_order:
        pen = TTGlyphPen(glyph_set)
        glyph_set[name].draw(Cu2QuPen(pen, MAX_ERR, reverse_direction=True))
        glyf.glyphs[name] = pen.glyph()
    font["loca"] = newTable("loca")
    font["glyf"] = glyf
    del font["CFF "]
    glyf.compile(font)
    hmtx = font["hmtx"]
    for name, glyph in glyf.glyphs.items():
        # TrueType wants the left side bearing to equal xMin.
        hmtx[name] = (hmtx[name][0], getattr(glyph, "xMin", 0))
    maxp = newTable("maxp")
    maxp.tableVersion = 0x00010000
    for attr in (
        "maxTwilightPoints maxStorage maxFunctionDefs maxInstructionDefs "
        "maxStackElements maxSizeOfInstructions maxComponentElements"
    ).split():
        setattr(maxp, attr, 0)
    maxp.maxZones = 1  # the other counts are recalculated on save
    font["maxp"] = maxp
    post = font["post"]
    post.formatType = 3.0  # no glyph names: CID fonts only have cid00123 anyway
    font.sfntVersion = "\x00\x01\x00\x00"
    head = font["head"]
    head.glyphDataFormat = 0


def mark_as_subset(font: TTFont, label: str) -> None:
    """Record in the name table that this is a modified (subset) version."""
    name = font["name"]
    version = name.getDebugName(5) or ""
    name.setName(f"{version}; Pingshen subset ({label}, TrueType outlines)", 5, 3, 1, 0x409)


def write_licence(out_dir: Path) -> None:
    """Write OFL.txt from the Debian copyright file (copyright line + SIL OFL 1.1 text)."""
    text = COPYRIGHT_FILE.read_text(encoding="utf-8")
    match = re.search(r"^License: SIL-1\.1\n((?: .*\n)+)", text, re.M)
    if not match:
        raise SystemExit(f"SIL-1.1 licence text not found in {COPYRIGHT_FILE}")
    body = "\n".join(
        "" if line == " ." else line[1:] for line in match.group(1).splitlines()
    )
    header = (
        "Noto Serif CJK SC: Copyright © 2017-2022 Adobe (http://www.adobe.com/), "
        "with Reserved Font Name 'Source'.\n"
        "Noto is a trademark of Google Inc.\n\n"
        "The files in this directory are subsets of Noto Serif CJK SC (Debian package\n"
        "fonts-noto-cjk) with outlines converted to TrueType by tools/build_fonts.py.\n"
        "They are Modified Versions under the licence below.\n\n"
    )
    (out_dir / "OFL.txt").write_text(header + body + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """Build every font in FONTS into the output directory."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for src_name, out_name, charset_name in FONTS:
        font = subset_font(SOURCE_DIR / src_name, charset(charset_name))
        cff_to_truetype(font)
        mark_as_subset(font, charset_name.upper())
        out = args.out / out_name
        font.save(out)
        kept = len(font.getBestCmap())
        gz = len(gzip.compress(out.read_bytes()))
        print(f"{out}: {kept} chars, {out.stat().st_size / 1e6:.2f} MB ({gz / 1e6:.2f} MB gz)")
    write_licence(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
