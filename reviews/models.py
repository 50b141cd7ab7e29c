"""Weekly KPI reviews. Filled by the review issue."""
