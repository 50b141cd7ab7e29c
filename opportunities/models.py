"""The opportunity-solution tree. Filled by the opportunity tree issue."""
