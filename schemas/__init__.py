"""Meta-schemas and per-operation JSON Schemas (package data)."""
