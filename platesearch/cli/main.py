"""Entry point of the `platesearch` command; each verb lives in its own module."""

from __future__ import annotations

from typing import Annotated

import typer

from platesearch.cli import demo, evaluate, images, localize, search, serve, train, watch

app = typer.Typer(
    name="platesearch",
    help="Find photos of a licence plate from its text.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        from platesearch import __version__

        typer.echo(f"platesearch {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """Find photos of a licence plate from its text."""


app.command("index")(search.index)
app.command("query")(search.query)
app.command("stats")(search.stats)
app.command("remove")(search.remove)
app.command("convert")(search.convert)
app.command("compact")(search.compact)
app.command("serve")(serve.serve)
app.command("verify")(search.verify)
app.command("watch")(watch.watch)
app.command("localize")(localize.localize)
app.command("render")(images.render)
app.command("binarize")(images.binarize)
app.command("frame")(images.frame)
app.command("evaluate")(evaluate.evaluate)
app.command("train")(train.train)
app.command("demo")(demo.demo)
