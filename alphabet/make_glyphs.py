"""Regenerate alphabet/glyphs/<font>/<char>.png: one 64x64 black-on-white image per character.

As in the reference study, plates are composed from per-character glyph images. All
glyphs of one font share one scale and one baseline, so composing them keeps the font's
natural proportions. Run: `python alphabet/make_glyphs.py` (needs Pillow).
"""

from __future__ import annotations

import string
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

ALPHABET_DIR = Path(__file__).resolve().parent
FONTS_DIR = ALPHABET_DIR / "fonts"
GLYPHS_DIR = ALPHABET_DIR / "glyphs"
CHARACTERS = string.ascii_uppercase + string.digits + "-"
SIZE = 64
MARGIN = 2  # pixels of white kept around the tallest and widest glyph
RENDER_PT = 256  # draw large, then scale down: smoother outlines than drawing at 64 px


def glyph_file_name(char: str) -> str:
    """File name of a character's glyph ('-' is not a safe file name on every system)."""
    return "dash.png" if char == "-" else f"{char}.png"


def make_font_glyphs(font_path: Path, out_dir: Path) -> None:
    font = ImageFont.truetype(str(font_path), RENDER_PT)
    boxes = {c: font.getbbox(c) for c in CHARACTERS}
    top = min(b[1] for b in boxes.values())
    bottom = max(b[3] for b in boxes.values())
    widest = max(b[2] - b[0] for b in boxes.values())
    scale = (SIZE - 2 * MARGIN) / max(bottom - top, widest)
    out_dir.mkdir(parents=True, exist_ok=True)
    for char, (left, _, right, _) in boxes.items():
        big = Image.new("L", (right - left + 8, bottom - top + 8), 255)
        ImageDraw.Draw(big).text((4 - left, 4 - top), char, font=font, fill=0)
        small = big.resize((max(1, round(big.width * scale)), round(big.height * scale)), Image.LANCZOS)
        glyph = Image.new("L", (SIZE, SIZE), 255)
        glyph.paste(small, ((SIZE - small.width) // 2, (SIZE - small.height) // 2))
        glyph.save(out_dir / glyph_file_name(char), optimize=True)


def main() -> None:
    for font_path in sorted(FONTS_DIR.glob("*.ttf")):
        make_font_glyphs(font_path, GLYPHS_DIR / font_path.stem)
        print(f"{font_path.name}: {len(CHARACTERS)} glyphs -> {GLYPHS_DIR / font_path.stem}")


if __name__ == "__main__":
    main()
