"""The strict base model every raw config section derives from."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """Unknown keys are errors; values are not coerced across types (``"5"`` is not an int)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
