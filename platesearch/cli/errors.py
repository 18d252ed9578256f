"""Turn the library's documented errors into one clear line and exit code 2."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer

from platesearch.media import ImageReadError
from platesearch.plates import PlateTextError
from platesearch.render import FontNotFoundError

USER_ERRORS: tuple[type[Exception], ...] = (PlateTextError, ImageReadError, FontNotFoundError, FileNotFoundError)


@contextmanager
def user_errors(*extra: type[Exception]) -> Iterator[None]:
    """Report a user's mistake as `error: ...` on stderr with exit code 2, not a traceback."""
    try:
        yield
    except USER_ERRORS + extra as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
