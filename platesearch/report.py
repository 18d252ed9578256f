"""A Markdown report of one evaluation, with its failure gallery beside it."""

from __future__ import annotations

from pathlib import Path

from platesearch.evaluate import EvaluationReport
from platesearch.sheet import draw_failure_gallery


def write_report(result: EvaluationReport, out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    gallery = draw_failure_gallery(result, out.with_suffix(".failures.png"))
    m = result.metrics
    ks = sorted(int(key[3:]) for key in m if key.startswith("top"))
    lines = [
        f"# Evaluation: {result.dataset} ({result.method})",
        "",
        "| queries | " + " | ".join(f"top-{k}" for k in ks) + " | MRR |",
        "|---|" + "---|" * (len(ks) + 1),
        f"| {m['queries']} | " + " | ".join(f"{m[f'top{k}']:.3f}" for k in ks) + f" | {m['mrr']:.3f} |",
        "",
    ]
    if result.hits_from_labelled_box is not None:
        lines += [
            f"Hits whose crop overlaps the labelled plate box (IoU >= 0.3): {result.hits_from_labelled_box:.3f}",
            "",
        ]
    if gallery:
        lines += [f"Missed at rank 1: {len(result.misses)} — see `{gallery.name}`.", ""]
        lines += [
            f"- {o.plate}: rank {o.rank or 'not found'}; first result {Path(o.results[0].path).name if o.results else '-'}"
            for o in result.misses
        ]
    if near := result.near_label_misses:
        lines += [
            "",
            f"Missed at rank 1 for a photo labelled one character away: {len(near)}. Often one plate "
            "labelled two ways (then the labels are wrong, not the search); look at both photos:",
            *[f"- {o.plate}: first {Path(o.results[0].path).name}, labelled {o.near_label}" for o in near],
        ]
    if result.bad_rows:
        lines += ["", "Label rows skipped:", *[f"- {row}" for row in result.bad_rows]]
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out
