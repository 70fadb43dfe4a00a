"""Shared input and output: atomic writes, canonical JSON and the JSON Schema validators (any layer may use them)."""
