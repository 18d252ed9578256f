"""The study's figure: the query's synthetic plate, then each match (crop and photo with its box)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from platesearch.media import ImageReadError, check_figure_path, read_image
from platesearch.records import SearchResult
from platesearch.render import render_plate
from platesearch.video import read_still


def draw_sheet(query: str, results: Sequence[SearchResult], out: Path, title: str | None = None) -> Path:
    """Write a PNG a person can read at a glance: query render on top, one row per result."""
    out = check_figure_path(out)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = 1 + max(1, len(results))
    fig, axes = plt.subplots(rows, 2, figsize=(9, 1.0 + 1.7 * rows), gridspec_kw={"width_ratios": [1.3, 1]})
    axes = np.atleast_2d(axes)
    for ax in axes.ravel():
        ax.axis("off")
    axes[0, 0].imshow(render_plate(query), cmap="gray", vmin=0, vmax=255)
    axes[0, 0].set_title(f"query {query!r}: synthetic plate", fontsize=10, loc="left")
    if not results:
        axes[1, 0].text(0, 0.5, "no results (empty index?)", fontsize=11)
    for row, result in enumerate(results, start=1):
        try:
            photo = read_still(result.path, result.time)
        except ImageReadError as error:
            axes[row, 0].text(0, 0.5, f"#{result.rank} cannot read {error}", fontsize=8)
            continue
        x, y, w, h = result.box
        crop = photo[y : y + h, x : x + w]
        axes[row, 0].imshow(cv2.cvtColor(crop, cv2.COLOR_BGR2RGB) if crop.size else np.zeros((1, 1, 3), np.uint8))
        axes[row, 0].set_title(
            f"#{result.rank}  score {result.score:.3f}  {Path(result.path).name}"
            + (f" at {result.time:.1f} s" if result.time is not None else ""),
            fontsize=9,
            loc="left",
        )
        framed = cv2.rectangle(photo.copy(), (x, y), (x + w, y + h), (0, 0, 255), max(2, photo.shape[1] // 300))
        axes[row, 1].imshow(cv2.cvtColor(framed, cv2.COLOR_BGR2RGB))
    fig.suptitle(title or f"platesearch: {query}", fontsize=12)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out


def draw_failure_gallery(report, out: Path, limit: int = 16) -> Path | None:
    """One row per query missed at rank 1: its render, what came back first, and the right photo."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    misses = report.misses[:limit]
    if not misses:
        return None
    fig, axes = plt.subplots(len(misses), 3, figsize=(12, 1.4 * len(misses) + 0.8), squeeze=False)
    for row, outcome in zip(axes, misses, strict=True):
        for ax in row:
            ax.axis("off")
        row[0].imshow(render_plate(outcome.plate), cmap="gray", vmin=0, vmax=255)
        row[0].set_title(
            f"query {outcome.plate} (rank {outcome.rank or '>' + str(len(outcome.results))})", fontsize=9, loc="left"
        )
        if outcome.results:
            first = outcome.results[0]
            row[1].imshow(_crop_rgb(first.path, first.box))
            row[1].set_title(f"#1 {Path(first.path).name} ({first.score:.3f})", fontsize=8, loc="left")
        row[2].imshow(_crop_rgb(outcome.expected_path, outcome.expected_box))
        row[2].set_title(f"expected: {Path(outcome.expected_path).name}", fontsize=8, loc="left")
    fig.suptitle(
        f"{report.dataset} / {report.method}: {len(report.misses)} queries missed at rank 1 (first {len(misses)} shown)",
        fontsize=11,
    )
    fig.tight_layout()
    fig.savefig(out, dpi=80)
    plt.close(fig)
    return Path(out)


def _crop_rgb(path: str, box: tuple[int, int, int, int] | None) -> np.ndarray:
    try:
        photo = read_image(path)
    except ImageReadError:
        return np.zeros((8, 32, 3), np.uint8)
    x, y, w, h = box or (0, 0, photo.shape[1], photo.shape[0])
    crop = photo[y : y + h, x : x + w]
    return cv2.cvtColor(crop, cv2.COLOR_BGR2RGB) if crop.size else np.zeros((8, 32, 3), np.uint8)
