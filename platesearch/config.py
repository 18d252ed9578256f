"""Configuration as data: plate rules and paths, loaded once into frozen, validated models."""

from __future__ import annotations

import os
import re
from functools import cache
from importlib import resources
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

PACKAGE_DIR = Path(__file__).resolve().parent
PLATE_RULES_FILE = PACKAGE_DIR / "data" / "plates.yaml"

# Canvas every plate image is brought to: the study's 512x64, black text on white.
CANVAS_HEIGHT = 64
CANVAS_WIDTH = 512
# Vector search choices (`vectors`), here so the CLI can name them without importing FAISS:
# "auto" is exact up to AUTO_IVF_THRESHOLD vectors and IVF above; "ivf-sq8" stores 8-bit vectors
# (and a 2-bit code of each one's rounding error, `vectors.RefinedIVFSQ8`).
VECTOR_INDEX_CHOICES = ("auto", "exact", "ivf", "ivf-sq8")
AUTO_IVF_THRESHOLD = 100_000
# A writer closes the shard it adds to at this many crops and begins a new one (`shards.py`): a
# base rewrite (store.py: now and then, when the segments have grown) writes at most this many
# vectors (about 200 MB as float, 62 MB as IVF-SQ8).
DEFAULT_SHARD_CROPS = 200_000
ENGINES = ("local", "ray")  # where `index` runs the per-file work (`distributed.py` for Ray)


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PlateFormat(Frozen):
    """A plate layout such as Ukrainian LLDDDDLL, compiled to a regular expression."""

    id: str
    name: str
    layout: str

    @property
    def regex(self) -> re.Pattern[str]:
        return _compile_layout(self.layout)


class PlateRules(Frozen):
    alphabet: str = Field(min_length=1)
    render_extra: str = ""
    max_length: int = Field(gt=0)
    separators: str
    cyrillic_lookalikes: dict[str, str]
    ocr_confusables: tuple[str, ...] = ()
    confusable_cost: float = Field(default=1.0, ge=0.0, le=1.0)
    formats: tuple[PlateFormat, ...]

    @field_validator("cyrillic_lookalikes")
    @classmethod
    def _single_characters(cls, mapping: dict[str, str]) -> dict[str, str]:
        for key, value in mapping.items():
            if len(key) != 1 or len(value) != 1:
                raise ValueError(f"look-alike mapping must be one character to one: {key!r}->{value!r}")
        return mapping


_LAYOUT_SYMBOLS = {"L": "[A-Z]", "D": "[0-9]", "X": "[A-Z0-9]"}


_LAYOUT_TOKEN = re.compile(r"[LDX](?:\{\d+(?:,\d+)?\})?")


@cache
def _compile_layout(layout: str) -> re.Pattern[str]:
    tokens = _LAYOUT_TOKEN.findall(layout)
    if "".join(tokens) != layout:
        raise ValueError(f"bad plate layout {layout!r}: use L, D, X and {{m,n}} quantifiers")
    return re.compile("^" + "".join(_LAYOUT_SYMBOLS[t[0]] + t[1:] for t in tokens) + "$")


@cache
def plate_rules(path: Path = PLATE_RULES_FILE) -> PlateRules:
    """The plate rules from `platesearch/data/plates.yaml` (validated; cached)."""
    rules = PlateRules.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    for plate_format in rules.formats:
        plate_format.regex  # noqa: B018 - fail at load time on a bad layout, not at first use
    return rules


def alphabet_dir() -> Path:
    """Where the fonts live (training and `alphabet/make_glyphs.py`): `$PLATESEARCH_ALPHABET`,
    else the repository's `alphabet/`."""
    override = os.environ.get("PLATESEARCH_ALPHABET")
    return Path(override) if override else PACKAGE_DIR.parent / "alphabet"


def _shipped(name: str, in_checkout: Path) -> Path:
    """Data that lives at the top of the repository and ships inside the wheel as the folder
    platesearch/`name` (pyproject's package-dir): the checkout's folder when running from one."""
    if in_checkout.is_dir():
        return in_checkout
    installed = Path(str(resources.files("platesearch"))) / name
    if not installed.is_dir():
        raise FileNotFoundError(f"neither {in_checkout} nor {installed} exists")
    return installed


def glyphs_dir() -> Path:
    """The glyph images: `$PLATESEARCH_ALPHABET/glyphs`, else `alphabet/glyphs` (platesearch.glyphs when installed)."""
    override = os.environ.get("PLATESEARCH_ALPHABET")
    return Path(override) / "glyphs" if override else _shipped("glyphs", PACKAGE_DIR.parent / "alphabet" / "glyphs")


def sample_dir() -> Path:
    """The small real sample of photos and crops: `datasets/sample` (platesearch.sample when installed)."""
    return _shipped("sample", PACKAGE_DIR.parent / "datasets" / "sample")
