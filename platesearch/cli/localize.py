"""`platesearch localize`: show the candidate plate regions found in photos."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from platesearch.cli.errors import user_errors
from platesearch.localize import DEFAULT_MAX_CANDIDATES, DEFAULT_MAX_SIDE
from platesearch.media import write_image


def _rows(photo: Path, candidates: list, out_dir: Path | None) -> list[dict]:
    from platesearch.localize import binarized_reading

    rows = [
        {"rank": rank, **candidate.to_json(), "binarized_reading": binarized_reading(candidate)}
        for rank, candidate in enumerate(candidates, start=1)
    ]
    if out_dir is not None:
        for row, candidate in zip(rows, candidates, strict=True):
            row["crop"] = str(write_image(out_dir / f"{photo.stem}-{row['rank']}.png", candidate.crop))
    return rows


def localize(
    photos: Annotated[list[Path], typer.Argument(help="Photos, or folders of photos (scanned recursively).")],
    out_dir: Annotated[
        Path | None, typer.Option("-o", "--out", help="Write each candidate crop into this folder as a PNG.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one photo's candidates as a JSON list.")] = False,
    as_jsonl: Annotated[
        bool, typer.Option("--jsonl", help="Print one JSON line per photo: {path, candidates} or {path, error}.")
    ] = False,
    draw: Annotated[
        Path | None,
        typer.Option("--draw", help="Write the photo with its boxes drawn to this file (a folder for several photos)."),
    ] = None,
    max_side: Annotated[
        int,
        typer.Option(
            help="Detector canvas at the least; photos are seen at 0.75 of their size or more "
            "(scaled like this), in tiles above 2048.",
        ),
    ] = DEFAULT_MAX_SIDE,
    max_candidates: Annotated[int, typer.Option(help="At most this many candidates.")] = DEFAULT_MAX_CANDIDATES,
) -> None:
    """Find candidate plate regions in photos with EasyOCR's detector (offline)."""
    from platesearch.localize import LocalizerUnavailable, draw_candidates
    from platesearch.localize import localize as find_candidates
    from platesearch.media import ImageReadError, iter_image_files, read_image

    files = list(iter_image_files(photos))
    several = len(files) > 1
    if as_json and several:
        typer.echo("error: --json prints one photo; use --jsonl for several", err=True)
        raise typer.Exit(2)
    for folder in (out_dir, draw if several else None):
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
    if draw is not None and not several and not draw.parent.is_dir():
        typer.echo(f"error: the folder of --draw {draw} does not exist", err=True)
        raise typer.Exit(2)
    failed = 0
    with user_errors(LocalizerUnavailable, OSError):
        for photo in files:
            try:
                image = read_image(photo)
            except ImageReadError as error:
                failed += 1
                typer.echo(json.dumps({"path": str(photo), "error": error.reason}) if as_jsonl else f"error: {error}")
                continue
            candidates = find_candidates(image, max_side=max_side, max_candidates=max_candidates)
            rows = _rows(photo, candidates, out_dir)
            if draw is not None:
                write_image(draw / f"{photo.stem}.png" if several else draw, draw_candidates(image, candidates))
            if as_jsonl:
                typer.echo(json.dumps({"path": str(photo), "candidates": rows}))
            elif as_json:
                typer.echo(json.dumps(rows, indent=2))
            else:
                if several:
                    typer.echo(f"{photo}:")
                for row in rows:
                    typer.echo(
                        f"{row['rank']}. {row['text']:<12} plausibility {row['plausibility']:.2f} "
                        f"confidence {row['ocr_confidence']:.2f} "
                        f"box {row['box']}" + (f" -> {row['crop']}" if "crop" in row else "")
                    )
                if not rows:
                    typer.echo("no candidate plate regions found")
    if failed:
        raise typer.Exit(1)
