"""`platesearch demo` (what `make demo` runs): search the bundled real sample."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from platesearch.cli.errors import user_errors


def demo(
    out: Annotated[Path, typer.Option("--out", help="Where the demo index and sheet go.")] = Path("demo-output"),
    sample: Annotated[
        Path | None,
        typer.Option(
            "--sample", help="A folder with crops/ and photos/ (each with labels.csv); default: the shipped one."
        ),
    ] = None,
) -> None:
    """Index the bundled sample of real photos and crops, then query some of its plates."""
    from platesearch.demo import run_demo

    with user_errors():
        run_demo(out, typer.echo, sample=sample)
