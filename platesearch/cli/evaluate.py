"""`platesearch evaluate`: top-k accuracy of a search method on a labelled dataset."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress

from platesearch.cli.errors import user_errors
from platesearch.cli.options import DEFAULT_METHOD, SearchMethod


def evaluate(
    dataset: Annotated[Path, typer.Argument(help="A folder with labels.csv (image,plate[,x,y,w,h]).")],
    index_dir: Annotated[
        Path | None,
        typer.Option("--index", help="Index of the dataset's images; built in a temporary folder if absent."),
    ] = None,
    k: Annotated[str, typer.Option("-k", "--k", help="Comma-separated ranks to report.")] = "1,3,10",
    method: Annotated[SearchMethod, typer.Option("--method", help="embedding | ocr | hybrid")] = DEFAULT_METHOD,
    holdout: Annotated[
        bool, typer.Option("--holdout", help="Only plates held out of the shipped model's training.")
    ] = False,
    baseline: Annotated[
        bool,
        typer.Option(
            "--baseline",
            help="Also answer the queries with EasyOCR readtext over each whole image, ranked by edit "
            "distance (what a user would script instead), and print its line beside.",
        ),
    ] = False,
    labels: Annotated[
        Path | None,
        typer.Option(
            "--labels",
            help="Read the labels from this file instead of DATASET/labels.csv (same columns; image paths "
            "relative to DATASET): corrected labels, kept outside the dataset.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON.")] = False,
    report: Annotated[
        Path | None, typer.Option("--report", help="Write a Markdown report here (a failure gallery PNG beside it).")
    ] = None,
) -> None:
    """Query every plate of a labelled dataset: top-k accuracy and MRR, as in the reference study."""
    from platesearch.evaluate import evaluate_baseline, evaluate_dataset
    from platesearch.model import ModelError
    from platesearch.report import write_report
    from platesearch.store import IndexStoreError

    try:
        ks = tuple(sorted({int(v) for v in k.split(",")}))
    except ValueError:
        typer.echo(f"error: --k must be comma-separated integers, got {k!r}", err=True)
        raise typer.Exit(2) from None
    with (
        user_errors(IndexStoreError, ModelError, ValueError),
        Progress(console=Console(stderr=True), transient=True) as progress,
    ):
        task = progress.add_task(f"evaluating {dataset.name} ({method.value})", total=None)
        result = evaluate_dataset(
            dataset,
            index_dir,
            ks=ks,
            method=method.value,
            holdout_only=holdout,
            progress=lambda done, total: progress.update(task, completed=done, total=total),
            labels=labels,
        )
        baseline_result = None
        if baseline:
            task = progress.add_task(f"baseline: EasyOCR readtext over each whole image of {dataset.name}", total=None)
            baseline_result = evaluate_baseline(
                dataset,
                ks=ks,
                holdout_only=holdout,
                progress=lambda done, total: progress.update(task, completed=done, total=total),
                labels=labels,
            )
    if report is not None:
        write_report(result, report)
    if as_json:
        rows = result.to_json()
        if baseline_result is not None:
            rows["baseline"] = baseline_result.to_json()
        typer.echo(json.dumps(rows, indent=2))
        return
    for line in (result, baseline_result):
        if line is not None:
            m = line.metrics
            typer.echo(
                f"{line.dataset} [{line.method}] queries {m['queries']}: "
                + "  ".join(f"top-{x} {m[f'top{x}']:.3f}" for x in ks)
                + f"  MRR {m['mrr']:.3f}"
            )
    if near := result.near_label_misses:
        typer.echo(
            f"note: {len(near)} of the misses put first a photo labelled one character away from the query "
            "(one plate labelled two ways?); --report lists them",
            err=True,
        )
    if result.not_in_index:
        typer.echo(
            f"warning: {result.not_in_index} images of {dataset} are not in the index (by path or content)", err=True
        )
    if result.hits_from_labelled_box is not None:
        typer.echo(f"hits whose crop overlaps the labelled box: {result.hits_from_labelled_box:.3f}")
    for row in result.bad_rows:
        typer.echo(f"skipped label row: {row}", err=True)
    if report is not None:
        typer.echo(f"report: {report}")
