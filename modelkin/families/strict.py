"""`Strict`: the base of every modelkin schema (its own module so that `spec.py` and the
schemas it is built from, such as `moe.py`, import it without importing each other)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    """Base of every modelkin schema: unknown keys are errors, values immutable."""

    # strict: a "4096" or 32.5 where a count belongs is an error, never coerced.
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, strict=True)
