"""`platesearch localize`: show the candidate plate regions found in one photo."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import cv2
import typer

from platesearch.cli.errors import user_errors
from platesearch.localize import DEFAULT_MAX_CANDIDATES, DEFAULT_MAX_SIDE


def localize(
    photo: Annotated[Path, typer.Argument(help="A photo.")],
    out_dir: Annotated[
        Path | None, typer.Option("-o", "--out", help="Write each candidate crop here as a PNG.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print candidates as JSON.")] = False,
    draw: Annotated[Path | None, typer.Option("--draw", help="Write the photo with the candidate boxes drawn.")] = None,
    max_side: Annotated[int, typer.Option(help="Detector canvas: longest side in pixels.")] = DEFAULT_MAX_SIDE,
    max_candidates: Annotated[int, typer.Option(help="At most this many candidates.")] = DEFAULT_MAX_CANDIDATES,
) -> None:
    """Find candidate plate regions in a photo with EasyOCR's detector (offline)."""
    from platesearch.io import read_image
    from platesearch.localize import LocalizerUnavailable
    from platesearch.localize import localize as find_candidates

    with user_errors(LocalizerUnavailable):
        image = read_image(photo)
        candidates = find_candidates(image, max_side=max_side, max_candidates=max_candidates)
    rows = []
    for i, c in enumerate(candidates, start=1):
        row = {
            "rank": i,
            "box": list(c.box),
            "quad": c.quad.round(1).tolist(),
            "text": c.text,
            "confidence": round(c.confidence, 4),
            "score": round(c.score, 4),
            "parts": c.parts,
        }
        if out_dir is not None:
            out_dir.mkdir(parents=True, exist_ok=True)
            row["crop"] = str(out_dir / f"{photo.stem}-{i}.png")
            cv2.imwrite(row["crop"], c.crop)
        rows.append(row)
    if draw is not None:
        canvas = image.copy()
        for row in rows:
            x, y, w, h = row["box"]
            cv2.rectangle(canvas, (x, y), (x + w, y + h), (0, 0, 255), 2)
            cv2.putText(
                canvas,
                f"{row['rank']}:{row['text']}",
                (x, max(12, y - 4)),
                cv2.FONT_HERSHEY_SIMPLEX,
                0.5,
                (0, 0, 255),
                1,
            )
        cv2.imwrite(str(draw), canvas)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
    else:
        for row in rows:
            typer.echo(
                f"{row['rank']}. {row['text']:<12} score {row['score']:.2f} conf {row['confidence']:.2f} box {row['box']}"
                + (f" -> {row['crop']}" if "crop" in row else "")
            )
        if not rows:
            typer.echo("no candidate plate regions found")
