"""Thin HTML views of discovery: parse with a form, call a service, render or redirect.

htmx requests get the fragment they swap (the interview list's results, the insights panel
of an interview, the notes preview, the affinity board); every link and form also works as
a plain request.
"""

from .imports import interview_import
from .insights import insight_delete, insight_detail, insight_edit, insight_new, insights
from .interviews import (
    interview_delete,
    interview_detail,
    interview_edit,
    interview_insight_new,
    interview_new,
    interviews,
    notes_preview,
)
from .personas import persona_delete, persona_detail, persona_edit, persona_new, personas
from .synthesis import synthesis

__all__ = [
    "insight_delete",
    "insight_detail",
    "insight_edit",
    "insight_new",
    "insights",
    "interview_delete",
    "interview_detail",
    "interview_edit",
    "interview_import",
    "interview_insight_new",
    "interview_new",
    "interviews",
    "notes_preview",
    "persona_delete",
    "persona_detail",
    "persona_edit",
    "persona_new",
    "personas",
    "synthesis",
]
