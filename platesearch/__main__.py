"""`python -m platesearch` is the `platesearch` command."""

from platesearch.cli.main import app

app()
