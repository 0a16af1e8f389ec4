"""Progress bars on stderr (so ``--json`` output on stdout stays clean).

They come from tqdm, which the ``modelhouse-sdk[cli]`` extra installs; without
it the command works the same, with no bars.  Only the command imports this
module: the library reports progress through callbacks and never needs tqdm.
"""

from __future__ import annotations

import sys
from typing import Any, Protocol

try:
    from tqdm import tqdm
except ImportError:  # installed without the [cli] extra
    tqdm = None


class Bar(Protocol):
    n: float
    total: float | None

    def update(self, n: float = 1) -> Any: ...

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> Any: ...

    def __enter__(self) -> Bar: ...

    def __exit__(self, *exc_info: object) -> Any: ...


class SilentBar:
    """A bar that shows nothing: the stand-in when bars are off or tqdm is missing."""

    def __init__(self, total: float | None = None) -> None:
        self.n: float = 0
        self.total = total

    def update(self, n: float = 1) -> None:
        self.n += n

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        pass

    def __enter__(self) -> SilentBar:
        return self

    def __exit__(self, *exc_info: object) -> None:
        pass


def bar(*, total: int | None, desc: str, enabled: bool, **options: Any) -> Bar:
    """A tqdm bar on stderr, or a :class:`SilentBar` when ``enabled`` is false or tqdm
    is not installed."""
    if not enabled or tqdm is None:
        return SilentBar(total)
    return tqdm(
        total=total,
        desc=desc,
        file=sys.stderr,
        leave=True,
        dynamic_ncols=True,
        **options,
    )


def write_line(text: str) -> None:
    """Print ``text`` on stdout without breaking a bar being drawn on stderr."""
    if tqdm is None:
        print(text)
    else:
        tqdm.write(text, file=sys.stdout)
