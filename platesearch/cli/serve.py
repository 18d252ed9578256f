"""`platesearch serve`: a local web page and JSON API over an index."""

from __future__ import annotations

from typing import Annotated

import typer

from platesearch.cli.options import IndexDir
from platesearch.cli.search import index_errors


def serve(
    index_dir: IndexDir,
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on (default: this machine only).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")] = 8000,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=1,
            max=64,
            help="Processes answering queries side by side, each with its own reader and model "
            "(about one per core; each holds the index's vectors in memory).",
        ),
    ] = 1,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            envvar="PLATESEARCH_TOKEN",
            help="Require this bearer token on /api (Authorization: Bearer TOKEN). Also from $PLATESEARCH_TOKEN.",
        ),
    ] = None,
) -> None:
    """Serve an index: a search page at / and a JSON API under /api (docs at /api/docs)."""
    try:
        from platesearch.server import is_loopback
        from platesearch.server import serve as run_server
    except ModuleNotFoundError as error:
        typer.echo(f"error: {error.name} is missing: pip install 'platesearch[serve]'", err=True)
        raise typer.Exit(2) from None
    if not is_loopback(host):
        typer.echo(
            f"warning: listening on {host}: anyone who can reach this machine can search the index"
            + ("" if token else " (no --token set)"),
            err=True,
        )
    typer.echo(f"serving {index_dir} at http://{host}:{port}/ (Ctrl-C stops)", err=True)
    with index_errors():
        run_server(index_dir, host, port, token, workers)
