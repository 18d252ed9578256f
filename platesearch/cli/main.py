"""Entry point of the `platesearch` command; each verb lives in its own module."""

from __future__ import annotations

import typer

from platesearch.cli import images

app = typer.Typer(
    name="platesearch",
    help="Find photos of a licence plate from its text.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("render")(images.render)
app.command("binarize")(images.binarize)
