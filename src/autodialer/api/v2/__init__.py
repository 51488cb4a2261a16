"""The typed v2 API under /api/v2: campaigns and their numbers on services only (see app.py)."""
