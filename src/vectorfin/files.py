"""Files that readers see whole or not at all, whatever happens to the writer."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

READABLE = 0o644


def write_atomically(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Write `path` with `write(file)`, an open binary file, so that readers see the old file or the
    whole new one, never a part (see `write_path_atomically`)."""

    def write_file(temporary: Path) -> None:
        with temporary.open("wb") as file:
            write(file)

    write_path_atomically(path, write_file)


def write_path_atomically(path: Path, write: Callable[[Path], object]) -> None:
    """Call `write(temporary)` on a file in `path`'s folder (for writers that take a path, such as an
    ONNX export), then publish it as `path` (`publish_file`): readers see the old file or the whole new
    one, never a part (a build killed mid-write, two builds at once). The temporary file is removed on
    any error."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    temporary = Path(name)
    try:
        write(temporary)
        publish_file(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def publish_file(temporary: Path, path: Path) -> None:
    """Flush the finished `temporary` to disk and rename it over `path` (same folder), then flush the
    folder, so that after a crash at any moment `path` is the old file or the whole new one."""
    with temporary.open("rb+") as file:
        os.fsync(file.fileno())
    temporary.chmod(READABLE)  # mkstemp creates it readable by its owner only
    os.replace(temporary, path)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
