"""`platesearch train`: train the embedding model from a config in experiments/."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from platesearch.cli.errors import user_errors


def train(
    config: Annotated[
        Path,
        typer.Option("--config", help="Training config, e.g. experiments/default.yaml.", exists=True, dir_okay=False),
    ],
    out: Annotated[Path, typer.Option("--out", help="Run folder: checkpoints, history, plot and the exported model.")],
) -> None:
    """Train the autoencoder (resumes if --out holds a checkpoint) and export autoencoder.keras + manifest.json."""
    import yaml

    from platesearch.train import TrainConfig
    from platesearch.train import train as run_training

    with user_errors(ValueError, yaml.YAMLError):  # a config that is not valid YAML or not a valid run
        training = TrainConfig.load(config)
    best = run_training(training, out)
    typer.echo(f"best epoch {best['epoch']}: validation top-1 {best['val_top1']:.3f}, top-3 {best['val_top3']:.3f}")
    typer.echo(f"model: {out / 'autoencoder.keras'}  plot: {out / 'training.png'}")
