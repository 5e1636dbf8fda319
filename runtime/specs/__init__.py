"""Specs: reading connector and operation files (YAML/JSON with file:line), their JSON Schemas, and the spec models."""
