"""Importing interviews: upload, preview each row's errors (nothing saved), confirm (all in one transaction)."""

from __future__ import annotations

import base64
from typing import Any

from django.contrib import messages
from django.core import signing
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from portfolio.access import Action, team_view
from portfolio.models import Team

from .. import importing, services
from ..forms import ImportForm

SALT = "interviews.import"
MAX_AGE = 3600  # a preview may be confirmed within the hour


def _pack(team: Team, files: list[tuple[str, bytes]]) -> str:
    content = [[name, base64.b64encode(data).decode("ascii")] for name, data in files]
    return signing.dumps({"team": team.pk, "files": content}, salt=SALT, compress=True)


def _unpack(team: Team, payload: str) -> list[tuple[str, bytes]]:
    data = signing.loads(payload, salt=SALT, max_age=MAX_AGE)
    if data.get("team") != team.pk:
        raise signing.BadSignature("another team's import")
    return [(name, base64.b64decode(content)) for name, content in data["files"]]


@team_view(Action.EDIT)
@require_http_methods(["GET", "POST"])
def interview_import(request: HttpRequest, team: Team) -> HttpResponse:
    """Upload → preview (each row's errors; nothing saved) → confirm (all rows in one transaction)."""
    context: dict[str, Any] = {"team": team, "section": "interviews", "sample": IMPORT_SAMPLE_CSV, "problems": []}
    form = ImportForm()
    files: list[tuple[str, bytes]] | None = None
    if request.method == "POST" and "payload" in request.POST:
        try:
            files = _unpack(team, request.POST["payload"])
        except (signing.BadSignature, ValueError, KeyError, TypeError):
            context["problems"].append("This preview has expired or was altered: upload the files again.")
    elif request.method == "POST":
        form = ImportForm(request.POST, request.FILES)
        if form.is_valid():
            files = form.cleaned_data["files"]
    if files is not None:
        try:
            rows = importing.check_rows(team, importing.read_files(files))
        except importing.UnreadableFile as error:
            context["problems"].append(str(error))
        else:
            bad = [row for row in rows if not row.ok]
            context.update(rows=rows, bad=bad, payload="" if bad else _pack(team, files))
            if request.POST.get("confirm") == "1" and not bad:
                try:
                    created = services.interviews_import(team=team, rows=[r.fields for r in rows], by=request.user)
                except ValidationError as error:
                    context.update(save_error=" ".join(error.messages), payload="")
                else:
                    count = len(created)
                    messages.success(request, f"Imported {count} interview{'s' if count != 1 else ''}.")
                    return redirect("interviews:interviews", slug=team.slug)
    context["form"] = form
    refused = form.errors or context["problems"] or context.get("bad") or context.get("save_error")
    return render(request, "interviews/import.html", context, status=422 if refused else 200)


IMPORT_SAMPLE_CSV = """date,interviewee,role,team,persona,type,interviewers,tags,recording,notes
2026-05-04,Mia Jensen,Merchandiser,Merchandising,Merchandiser Mia,user,pm,"forecast, trust",https://drive.example/rec/1,"Orders from a spreadsheet every Monday."
"""
