"""A model folder of the installed base model's files, linked, for code that writes beside a model (an
ONNX export, a result marker) and must never write into the installed package."""

from __future__ import annotations

from pathlib import Path

from vectorfin.config.training import TrainingConfig


def linked_base_model(folder: Path) -> Path:
    """`folder` holding a link to each file of the base model (all-MiniLM-L6-v2); links already there
    are kept, so a folder reused across runs keeps what was written beside them."""
    folder.mkdir(parents=True, exist_ok=True)
    for entry in Path(TrainingConfig().resolved_base_model()).iterdir():
        if not (folder / entry.name).exists():
            (folder / entry.name).symlink_to(entry)
    return folder
