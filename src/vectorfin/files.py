"""Files that readers see whole or not at all, whatever happens to the writer."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

READABLE = 0o644


def write_atomically(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Write `path` with `write(file)` so that readers see the old file or the whole new one, never a
    part (a build killed mid-write, two builds at once): a temporary file in the same folder, flushed
    to disk, then renamed over `path` (os.replace); the temporary file is removed on any error."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, READABLE)  # mkstemp creates it private
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
