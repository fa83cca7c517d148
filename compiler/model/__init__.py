"""The manifest and policy languages as pydantic models (the single source of truth)."""
