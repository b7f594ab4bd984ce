"""The JSON API under /api/v1: bearer tokens, the same services as the UI, an OpenAPI document."""
