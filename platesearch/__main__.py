"""`python -m platesearch` is the `platesearch` command."""

from platesearch.cli.main import app

if __name__ == "__main__":
    app()
