"""Personas, interviews and insights. Filled by the discovery issue."""
