"""The kernel every app builds on: errors, tenancy context and its database
backend, the tenant-owned model base, the API base view with its idempotency,
pagination and rate limits, and the Redis connections.  It imports none of the
apps (the layers are written down in docs/architecture.md and checked by
tests/test_architecture.py)."""
