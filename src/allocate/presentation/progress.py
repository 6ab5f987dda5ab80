"""Rich progress bars for the analyses' ``progress(done, total)`` callbacks (the CLI's bars).

A bar is drawn on stderr, so tables and summaries on stdout stay clean to redirect; it is
removed once its work is done. The total may grow while the work runs (the frontier search
finds its intervals as it goes).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def progress_bar(description: str) -> Iterator[Callable[[int, int], None]]:
    """A ``progress(done, total)`` callback that drives a transient Rich bar."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update
