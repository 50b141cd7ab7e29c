"""Warehouses, metrics and snapshots. Filled by the metrics issue."""
