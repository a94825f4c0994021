"""Settings dbt hands to Python models: vars rendered as JSON text by `{{ tojson(var(...)) }}`."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any


def mapping_setting(name: str, value: Any) -> dict[str, Any]:
    """The mapping a dbt config holds (JSON text or already a value); empty when unset."""
    if value in (None, "", "null", "None"):
        return {}
    parsed = json.loads(value) if isinstance(value, str) else value
    if parsed is None:
        return {}
    if not isinstance(parsed, Mapping):
        raise ValueError(f"dbt setting {name!r} must be a mapping, got {parsed!r}")
    return dict(parsed)


def is_number(value: Any) -> bool:
    """A finite int or float, not a bool (YAML and JSON numbers; text is not a number here)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
