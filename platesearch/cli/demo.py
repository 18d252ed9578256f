"""`platesearch demo` (what `make demo` runs): search the bundled real sample."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def demo(
    out: Annotated[Path, typer.Option("--out", help="Where the demo index and sheet go.")] = Path("demo-output"),
) -> None:
    """Index the bundled sample of real photos and crops, then query some of its plates."""
    from platesearch.demo import run_demo

    run_demo(out, typer.echo)
