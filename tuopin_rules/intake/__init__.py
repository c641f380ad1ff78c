"""Stage 5 — data intake: cell values (``values``) and data files to linked tables (``tables``)."""
