"""`platesearch index | query | stats | remove`: build a searchable collection and ask it for plates."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from platesearch.cli.errors import user_errors
from platesearch.cli.options import DEFAULT_METHOD, Engine, IndexDir, SearchMethod, VectorIndexChoice
from platesearch.config import AUTO_IVF_THRESHOLD, DEFAULT_SHARD_CROPS
from platesearch.localize import DEFAULT_MAX_SIDE
from platesearch.media import DEFAULT_MAX_PIXELS, NOT_SUPPORTED, check_figure_path
from platesearch.video import DEFAULT_SAMPLE_FPS

VECTOR_INDEX_HELP = (
    "Vector search: exact, ivf (approximate, for millions of crops), ivf-sq8 (ivf with 8-bit "
    "vectors and 2-bit codes of their rounding error: a third of the memory) or auto "
    f"(exact up to {AUTO_IVF_THRESHOLD:,} crops, ivf above). "
    "Remembered by the index; converting keeps the stored vectors (no re-embedding)."
)
console = Console(stderr=True)


class TransferSpeed(ProgressColumn):
    """Files per second."""

    def render(self, task: Task) -> Text:
        return Text(f"{task.speed:.2f} files/s" if task.speed else "", style="progress.data.speed")


def _count(n: int, noun: str) -> str:
    """'1 image', '3 images'."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _positive_finite(value: float) -> float:
    if not math.isfinite(value) or value <= 0:
        raise typer.BadParameter(f"must be a positive number, got {value}")
    return value


def index_errors():
    from platesearch.distributed import RayUnavailableError
    from platesearch.media import ImageWriteError
    from platesearch.model import ModelError
    from platesearch.search import SearchError
    from platesearch.store import IndexStoreError

    return user_errors(IndexStoreError, ModelError, SearchError, ImageWriteError, RayUnavailableError)


def index(
    paths: Annotated[list[Path], typer.Argument(help="Image and video files, and folders (scanned recursively).")],
    index_dir: IndexDir,
    crops: Annotated[
        bool, typer.Option("--crops", help="The images are plate crops already: no localization.")
    ] = False,
    ocr: Annotated[
        bool,
        typer.Option(
            "--ocr/--no-ocr",
            help="With --crops: store EasyOCR's readings of each crop (used by --method ocr/hybrid); "
            "--no-ocr indexes faster for --method embedding only.",
        ),
    ] = True,
    max_megapixels: Annotated[
        float,
        typer.Option(
            "--max-megapixels", callback=_positive_finite, help="Refuse images declaring more pixels than this."
        ),
    ] = DEFAULT_MAX_PIXELS / 1e6,
    vector_index: Annotated[
        VectorIndexChoice | None, typer.Option("--vector-index", help=VECTOR_INDEX_HELP + " Default: keep.")
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=0,
            help="Processes that decode, localize and binarize while the model embeds "
            "(0: all in this process). Default: one per core for 32 files or more. "
            "With --engine ray: the number of Ray actors, one shard each (default: one per CPU of the cluster).",
        ),
    ] = None,
    detector_max_side: Annotated[
        int | None,
        typer.Option(
            "--detector-max-side",
            min=64,
            help=f"Text detector canvas, longest side in pixels, at the least (default {DEFAULT_MAX_SIDE}; 512 is faster, "
            "see BENCHMARKS.md); photos are seen at three quarters of their size or more, scaled by the same ratio.",
        ),
    ] = None,
    video_fps: Annotated[
        float,
        typer.Option(
            "--video-fps", callback=_positive_finite, help="Video frames sampled per second (near-repeats are skipped)."
        ),
    ] = DEFAULT_SAMPLE_FPS,
    engine: Annotated[
        Engine,
        typer.Option(
            "--engine",
            help="local: this machine (--workers processes); ray: Ray actors on a cluster (or a local Ray runtime), "
            "each writing a shard of the index (needs platesearch's ray extra).",
        ),
    ] = Engine.local,
    ray_address: Annotated[
        str | None,
        typer.Option(
            "--ray-address",
            help="With --engine ray: the cluster to join (e.g. ray://head:10001); default: a local one.",
        ),
    ] = None,
    shard_crops: Annotated[
        int,
        typer.Option(
            "--shard-crops",
            min=1,
            help="Begin a new shard when the last holds this many crops, so commits stay small however large "
            "the index grows.",
        ),
    ] = DEFAULT_SHARD_CROPS,
) -> None:
    """Index photos, videos (or plate crops) so they can be searched by plate text. Re-running skips what is indexed.

    A video's frames are sampled (--video-fps), each kept frame is searched for plates like a
    photo, and one plate in consecutive frames is one sighting; a video cut short is indexed
    up to its last good frame.

    Ctrl-C stops after the file at hand and keeps what is done (run the command again to go
    on); a second Ctrl-C stops at once, and the index still opens.
    """
    from platesearch.pipeline import PlateIndex
    from platesearch.workers import stop_on_interrupt

    choice = vector_index.value if vector_index else None
    with (
        index_errors(),
        PlateIndex.create(index_dir, vector_index=choice, shard_crops=shard_crops) as plate_index,
        stop_on_interrupt(
            lambda: console.print("stopping after the file at hand; what is done is kept (Ctrl-C again: stop now)"),
            "stopped at once; the index keeps every batch committed so far",
        ) as stop,
    ):
        plate_index.max_pixels = int(max_megapixels * 1_000_000)
        columns = [
            TextColumn("indexing"),
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            TransferSpeed(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
        ]
        with Progress(*columns, console=console, transient=False) as progress:
            task = progress.add_task("index", total=None)
            report = plate_index.add(
                paths,
                crops=crops,
                ocr=ocr,
                progress=lambda done, total, _: progress.update(task, completed=done, total=total),
                workers=workers,
                detector_max_side=detector_max_side,
                stop=stop,
                video_fps=video_fps,
                engine=engine.value,
                ray_address=ray_address,
            )
        stats = plate_index.stats()
    moved = f", {report.moved} moved (new path recorded)" if report.moved else ""
    images = report.indexed - report.videos
    indexed = _count(images, "image") if not report.videos else _count(report.videos, "video")
    if report.videos and images:
        indexed += f" and {_count(images, 'image')}"
    console.print(
        f"indexed {indexed} ({_count(report.candidates, 'candidate crop')}, "
        f"{report.without_candidates} without any), skipped {report.skipped} already indexed{moved}, "
        f"failed {len(report.failed)}; the index now holds {_count(stats['photos'], 'image')}, "
        f"{_count(stats['crops'], 'crop')}"
    )
    stages = ", ".join(f"{stage} {seconds:.1f}" for stage, seconds in report.seconds.items() if seconds >= 0.05)
    if stages:
        console.print(f"seconds per stage (decode, localize, binarize summed over workers): {stages}", style="dim")
    for suffix, count in sorted(report.not_images.items()):
        why = NOT_SUPPORTED.get(suffix, "not an image")
        console.print(f"  not indexed: {_count(count, 'file')} {suffix} ({why})")
    for path, reason in report.failed:
        console.print(f"  failed: {path}: {reason}")
    for path, reason in report.read_in_part:
        console.print(f"  read in part: {path}: {reason}")
    if report.interrupted:
        console.print("interrupted: run the same command again to index the rest")
        raise typer.Exit(130)
    if report.failed:
        raise typer.Exit(1)


def query(
    index_dir: IndexDir,
    text: Annotated[
        str | None,
        typer.Argument(help="Plate text, e.g. AA5149EK; ? is one unknown character, * any run: AB?12*, *7353*."),
    ] = None,
    k: Annotated[int, typer.Option("-k", help="How many photos to return.", min=1)] = 3,
    partial: Annotated[
        str | None, typer.Option("--partial", help="Photos of plates that contain this text (the pattern *TEXT*).")
    ] = None,
    min_score: Annotated[
        float,
        typer.Option(
            "--min-score", min=0.0, max=1.0, help="Leave out photos scoring below this; none left: not found."
        ),
    ] = 0.0,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print a JSON list of {rank, path, score, box[, reading][, matched][, taken_at]"
            "[, time, first, last]} (time, first, last: seconds into a video).",
        ),
    ] = False,
    sheet: Annotated[
        Path | None, typer.Option("--sheet", help="Also draw the query render and the matches to this PNG.")
    ] = None,
    method: Annotated[
        SearchMethod, typer.Option("--method", help="embedding | ocr | hybrid (embedding + OCR text).")
    ] = DEFAULT_METHOD,
    since: Annotated[
        str | None,
        typer.Option(
            "--since", help="Only photos taken at or after this ISO 8601 time (2026-03-01, 2026-03-01T14:30)."
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option("--until", help="Only photos taken at or before this ISO 8601 time (a date: to its end)."),
    ] = None,
) -> None:
    """Find the photos that show a plate, best first."""
    from platesearch.patterns import ANY, PlatePattern, is_pattern
    from platesearch.pipeline import PlateIndex
    from platesearch.plates import PlateTextError
    from platesearch.records import TimeWindow

    if (text is None) == (partial is None):
        typer.echo("error: give a plate text or --partial TEXT (one of them)", err=True)
        raise typer.Exit(2)
    try:
        window = TimeWindow.parse(since, until)
    except ValueError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    query_text = text if text is not None else f"{ANY}{partial}{ANY}"
    with index_errors(), PlateIndex.open(index_dir) as plate_index:
        if sheet is not None:
            check_figure_path(sheet)  # before the search, not after it
        if method.value == "hybrid" and not plate_index.has_readings():
            console.print(
                "note: this index holds no OCR readings (indexed with --no-ocr): ranked by the embedding alone"
            )
        try:
            results = plate_index.search(query_text, k=k, method=method.value, min_score=min_score, window=window)
            rendered = PlatePattern.parse(query_text).fixed if is_pattern(query_text) else query_text
        except (PlateTextError, ValueError) as error:
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(2) from None
        if sheet is not None:
            from platesearch.sheet import draw_sheet

            draw_sheet(rendered, results, sheet)
    if not results and min_score > 0:
        console.print(f"not found: no photo scored above {min_score}")
    if as_json:
        typer.echo(json.dumps([r.to_json() for r in results], indent=2))
        return
    table = Table(title=f"{query_text}: top {k}")
    for column in ("rank", "score", "box", "reading"):
        table.add_column(column, no_wrap=True)
    table.add_column("path", overflow="fold")
    for r in results:
        where = r.path if r.time is None else f"{r.path} at {r.time:.1f} s"
        table.add_row(str(r.rank), f"{r.score:.3f}", ",".join(map(str, r.box)), r.matched or r.reading or "", where)
    Console().print(table)
    if sheet is not None:
        console.print(f"sheet: {sheet}")


def stats(index_dir: IndexDir) -> None:
    """What an index holds."""
    from platesearch.pipeline import PlateIndex

    with index_errors(), PlateIndex.open(index_dir) as plate_index:
        for key, value in plate_index.stats().items():
            typer.echo(f"{key}: {value}")
        for path, reason in plate_index.failures():
            typer.echo(f"failed: {path}: {reason}")


def convert(
    index_dir: IndexDir,
    to: Annotated[VectorIndexChoice, typer.Option("--to", help=VECTOR_INDEX_HELP)],
) -> None:
    """Switch an index between exact and approximate (IVF) vector search."""
    from platesearch.pipeline import PlateIndex

    with index_errors(), PlateIndex.create(index_dir, existing_only=True) as plate_index:
        plate_index.set_vector_index(to.value)
        stats = plate_index.stats()
    typer.echo(f"{stats['vectors']} vectors, vector index: {stats['vector_index']}")


def compact(index_dir: IndexDir) -> None:
    """Merge an index's shards into one (after `index --engine ray`, or once a large index has many)."""
    from platesearch.pipeline import PlateIndex

    with index_errors(), PlateIndex.create(index_dir, existing_only=True) as plate_index:
        merged = plate_index.compact()
        stats = plate_index.stats()
    typer.echo(f"merged {_count(merged, 'shard')} into the first: {stats['photos']} photos, {stats['crops']} crops")


def remove(
    paths: Annotated[list[Path], typer.Argument(help="Photos to forget, by the path they were indexed under.")],
    index_dir: IndexDir,
) -> None:
    """Remove photos and their crops from an index."""
    from platesearch.pipeline import PlateIndex

    with index_errors(), PlateIndex.create(index_dir, existing_only=True) as plate_index:
        unknown = [path for path in paths if not plate_index.contains(path)]
        removed = plate_index.remove(paths)
    typer.echo(f"removed {removed} of {_count(len(paths), 'photo')}")
    for path in unknown:
        typer.echo(f"not in the index: {path}", err=True)
    if unknown:
        raise typer.Exit(1)


def verify(
    index_dir: IndexDir,
    repair: Annotated[
        bool, typer.Option("--repair", help="Do what the report says --repair would do (vectors and catalog only).")
    ] = False,
) -> None:
    """Check an index's manifest, catalog and vectors against each other; say what --repair would do."""
    from platesearch.verify import verify_index

    with index_errors():
        report = verify_index(index_dir, repair=repair)
    for line in report.problems:
        typer.echo(f"problem: {line}")
    for line in report.notes:
        typer.echo(f"note: {line}")
    if report.ok:
        typer.echo(f"{index_dir}: manifest, catalog and vectors agree")
        return
    if not report.repairable:
        typer.echo("not repairable here: index the photos again into a new folder")
        raise typer.Exit(1)
    for line in report.repairs:
        typer.echo(f"{'repaired' if report.repaired else '--repair would'}: {line}")
    if not report.repaired:
        raise typer.Exit(1)
