"""Operation YAML files, one folder per connector (package data)."""
