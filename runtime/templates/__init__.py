"""The `{{ }}` expression language of specs and automations: filters, parser and compiled templates."""
