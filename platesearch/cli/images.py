"""`platesearch render`, `binarize` and `frame`: look at what the model sees, and at a video's hit."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from platesearch.cli.errors import user_errors
from platesearch.render import DEFAULT_FONT


def render(
    text: Annotated[
        str, typer.Argument(help="Plate text, e.g. AA5149EK (spaces, dashes, Cyrillic look-alikes allowed).")
    ],
    output: Annotated[Path, typer.Option("-o", "--output", help="PNG to write.")] = Path("plate.png"),
    font: Annotated[str, typer.Option(help="Font name from alphabet/glyphs/.")] = DEFAULT_FONT,
) -> None:
    """Render plate text as the 512x64 synthetic plate the search compares photos with."""
    from platesearch.media import ImageWriteError, write_image
    from platesearch.render import render_plate

    with user_errors(ImageWriteError):
        write_image(output, render_plate(text, font=font))
    typer.echo(str(output))


def binarize(
    crop: Annotated[Path, typer.Argument(help="A plate crop (any image format).")],
    output: Annotated[Path, typer.Option("-o", "--output", help="PNG to write.")] = Path("binarized.png"),
) -> None:
    """Binarize a plate crop to the 512x64 black-on-white image the model reads."""
    from platesearch.binarize import binarize as binarize_crop
    from platesearch.media import ImageWriteError, read_image, write_image

    with user_errors(ImageWriteError):
        write_image(output, binarize_crop(read_image(crop)))
    typer.echo(str(output))


def frame(
    video: Annotated[Path, typer.Argument(help="A video file.")],
    time: Annotated[float, typer.Option("--time", "-t", min=0.0, help="Seconds from the start (a result's `time`).")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Image to write (.png or .jpg).")] = Path("frame.png"),
) -> None:
    """Write the frame of a video shown at a time, to look at a hit."""
    from platesearch.media import ImageWriteError, write_image
    from platesearch.video import read_frame

    with user_errors(ImageWriteError):
        write_image(output, read_frame(video, time))
    typer.echo(str(output))
