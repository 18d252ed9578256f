"""Option types shared by several verbs, built from the library's own names and defaults."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from platesearch.config import ENGINES, VECTOR_INDEX_CHOICES
from platesearch.scoring import DEFAULT_SEARCH_METHOD, SEARCH_METHODS

IndexDir = Annotated[Path, typer.Option("--index", help="Index directory.")]
# Enums, so typer refuses an unknown choice before any model loads.
VectorIndexChoice = StrEnum("VectorIndexChoice", {name: name for name in VECTOR_INDEX_CHOICES})
Engine = StrEnum("Engine", {name: name for name in ENGINES})
SearchMethod = StrEnum("SearchMethod", {name: name for name in SEARCH_METHODS})
DEFAULT_METHOD = SearchMethod(DEFAULT_SEARCH_METHOD)
