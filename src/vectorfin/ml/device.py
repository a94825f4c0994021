"""Which accelerator and numeric precision training and encoding run with."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

logger = logging.getLogger(__name__)

Device = Literal["cuda", "mps", "cpu"]
Precision = Literal["bf16", "fp16", "fp32"]
DEVICES: tuple[str, ...] = ("cuda", "mps", "cpu")


@dataclass(frozen=True)
class DeviceChoice:
    device: Device
    precision: Precision
    reason: str


def decide_device(
    prefer: str | None,
    cuda_available: bool,
    bf16_supported: bool,
    mps_available: bool = False,
) -> DeviceChoice:
    """Pick a device from the machine's capabilities; pure, so every branch can be tested anywhere.

    A preferred device that the machine lacks falls back to the best available one (with the
    reason saying so) rather than failing, so one configuration runs on laptops and GPU hosts.
    """
    if prefer is not None and prefer not in DEVICES:
        raise ValueError(f"unknown device {prefer!r}; expected one of {', '.join(DEVICES)} or None")
    available = {"cuda": cuda_available, "mps": mps_available, "cpu": True}
    fallback_note = ""
    if prefer is not None and not available[prefer]:
        fallback_note = f"{prefer} requested but not available; "
        prefer = None
    device = prefer or next(name for name in DEVICES if available[name])
    if device == "cuda":
        # bf16 keeps fp32's exponent range, so no loss scaling; fp16 only on GPUs without bf16.
        precision: Precision = "bf16" if bf16_supported else "fp16"
        detail = "CUDA with bf16 support" if bf16_supported else "CUDA without bf16 support"
    elif device == "mps":
        precision, detail = "fp32", "Apple MPS (mixed precision there is not reliable for training)"
    else:
        precision, detail = "fp32", "CPU (mixed precision brings no speed-up there)"
    return DeviceChoice(device=device, precision=precision, reason=f"{fallback_note}{detail}")


def choose_device(prefer: str | None = None) -> DeviceChoice:
    """The device and precision for this machine, logged."""
    # imported here: the settings check reads DEVICES at the start of every dbt run, torch-free
    import torch

    cuda_available = torch.cuda.is_available()
    choice = decide_device(
        prefer,
        cuda_available=cuda_available,
        bf16_supported=cuda_available and torch.cuda.is_bf16_supported(),
        mps_available=torch.backends.mps.is_available(),
    )
    logger.info("Using device %s with %s precision: %s", choice.device, choice.precision, choice.reason)
    return choice
