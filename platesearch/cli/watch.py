"""`platesearch watch`: index a folder as images arrive, alert on watched plates (one JSON line each)."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from platesearch.cli.options import IndexDir
from platesearch.cli.search import index_errors


class MatchMode(StrEnum):
    exact = "exact"
    lenient = "lenient"


def watch(
    folder: Annotated[Path, typer.Argument(help="Folder to index as images appear (scanned recursively).")],
    index_dir: IndexDir,
    plates: Annotated[Path, typer.Option("--plates", help="Watch list: one plate or pattern (AB?12*) per line.")],
    min_score: Annotated[float, typer.Option("--min-score", min=0.0, max=1.0, help="Drop weaker alerts.")] = 0.0,
    match: Annotated[
        MatchMode,
        typer.Option(
            "--match",
            help="exact: a reading is the plate (a confusable or stray end character allowed); lenient: "
            "also a close reading or a close embedding (thresholds measured, see README).",
        ),
    ] = MatchMode.lenient,
    once: Annotated[bool, typer.Option("--once", help="Process what is there now and exit (for cron).")] = False,
    webhook: Annotated[
        str | None,
        typer.Option("--webhook", help="Also POST each alert as JSON to this URL (retried, never blocking)."),
    ] = None,
    interval: Annotated[float, typer.Option("--interval", min=0.5, help="Seconds between looks at the folder.")] = 10.0,
) -> None:
    """Alert on watched plates in new or changed images: one JSON line per alert {plate, path, score, box, reading, time}."""
    from platesearch.cli.search import console
    from platesearch.pipeline import PlateIndex
    from platesearch.watch import Webhook, read_watch_list
    from platesearch.watch import watch as run_watch
    from platesearch.workers import stop_on_interrupt

    if not folder.is_dir():
        typer.echo(f"error: {folder} is not a folder", err=True)
        raise typer.Exit(2)
    with index_errors():
        watched = read_watch_list(plates)
    sender = Webhook(webhook, lambda message: console.print(f"warning: {message}")) if webhook else None

    def alert(found) -> None:
        typer.echo(json.dumps(found.to_json()))
        if sender is not None:
            sender.send(found)

    console.print(f"watching {folder} for {len(watched)} plates" + ("" if once else " (Ctrl-C stops)"))
    with (
        index_errors(),
        PlateIndex.create(index_dir) as plate_index,
        stop_on_interrupt(lambda: console.print("stopping after the file at hand")) as stop,
    ):
        run_watch(folder, plate_index, watched, alert, match.value, min_score, once, interval, stop)
    if sender is not None:
        sender.close()
