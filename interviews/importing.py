"""Reading interviews from files: a CSV (one row per interview) or Markdown files with front matter.

Nothing here writes. `read_files` turns uploads into rows, `check_rows` matches personas and
interviewers and validates every row as the model would, so a preview can list each row's
errors before anything is saved; `services.interviews_import` then saves all rows or none.

A Markdown file looks like this (the front matter is YAML; the body becomes the notes):

    ---
    date: 2026-05-04
    interviewee: Mia Jensen
    role: Merchandiser
    team: Merchandising
    persona: Merchandiser Mia
    type: user
    interviewers: pm, lead
    tags: [forecast, trust]
    recording: https://drive.example/rec/123
    ---
    ## Notes
    She orders from a spreadsheet …
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import yaml
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils.dateparse import parse_date

from portfolio.models import Team

from .models import Interview, InterviewType, Persona, normalise_tags

User = get_user_model()

MAX_ROWS = 500
MARKDOWN_SUFFIXES = (".md", ".markdown", ".txt")
MAX_BYTES = 2 * 1024 * 1024

# Column (or front-matter key) → what it fills. Several spellings are accepted for each.
COLUMNS = {
    "date": "held_on",
    "held_on": "held_on",
    "interviewee": "interviewee_name",
    "interviewee_name": "interviewee_name",
    "name": "interviewee_name",
    "role": "interviewee_role",
    "interviewee_role": "interviewee_role",
    "team": "interviewee_team",
    "department": "interviewee_team",
    "interviewee_team": "interviewee_team",
    "persona": "persona",
    "type": "type",
    "interviewers": "interviewers",
    "interviewer": "interviewers",
    "tags": "tags",
    "recording": "recording_url",
    "recording_url": "recording_url",
    "transcript": "recording_url",
    "notes": "notes",
}
REQUIRED = ("held_on", "interviewee_name")
FRONT_MATTER = re.compile(r"\A\ufeff?---[ \t]*\r?\n(?P<yaml>.*?)\r?\n---[ \t]*(?:\r?\n|\Z)(?P<body>.*)\Z", re.S)
TYPE_NAMES = {**{t.value: t.value for t in InterviewType}, **{t.label.lower(): t.value for t in InterviewType}}


@dataclass
class Row:
    """One interview to import: where it came from, its raw values, and what is wrong with it."""

    source: str  # "row 3" or the file name
    values: dict[str, Any]
    errors: list[str] = field(default_factory=list)
    fields: dict[str, Any] = field(default_factory=dict)  # ready for the service when there are no errors

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def interviewee(self) -> str:
        return str(self.values.get("interviewee_name") or "—")

    @property
    def held_on(self) -> str:
        return str(self.values.get("held_on") or "—")

    @property
    def persona(self) -> str:
        return str(self.values.get("persona") or "")

    @property
    def notes_length(self) -> int:
        return len(str(self.values.get("notes") or ""))


class UnreadableFile(ValueError):
    """The file as a whole cannot be read (not a row's problem)."""


def _decode(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UnreadableFile(f"{name} is not UTF-8 text.") from None


def _mapped(raw: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    values: dict[str, Any] = {}
    unknown = []
    for key, value in raw.items():
        if key is None:  # more cells than headers
            unknown.append("extra cells beyond the last column")
            continue
        name = COLUMNS.get(str(key).strip().lower().replace(" ", "_"))
        if name is None:
            if str(key).strip():
                unknown.append(f"unknown column “{key}”")
            continue
        values[name] = value
    return values, unknown


def read_csv(data: bytes, name: str = "the file") -> list[Row]:
    text = _decode(data, name)
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if not reader.fieldnames:
        raise UnreadableFile(f"{name} is empty.")
    headers = {COLUMNS.get(h.strip().lower().replace(" ", "_")) for h in reader.fieldnames if h}
    missing = [column for column in REQUIRED if column not in headers]
    if missing:
        raise UnreadableFile(
            f"{name} needs the columns date and interviewee (and may have role, team, persona, type, "
            "interviewers, tags, recording, notes)."
        )
    rows = []
    try:
        for line in reader:
            values, unknown = _mapped(line)
            row = Row(source=f"Row {len(rows) + 1}", values=values)
            row.errors.extend(f"{problem.capitalize()}." for problem in unknown if problem.startswith("extra"))
            rows.append(row)
            if len(rows) > MAX_ROWS:
                raise UnreadableFile(f"{name} has more than {MAX_ROWS} interviews: split it.")
    except csv.Error as error:
        raise UnreadableFile(f"{name} is not a readable CSV file ({error}).") from None
    if not rows:
        raise UnreadableFile(f"{name} has a header but no interviews.")
    return rows


def read_markdown(data: bytes, name: str) -> Row:
    text = _decode(data, name)
    match = FRONT_MATTER.match(text)
    if match is None:
        return Row(
            source=name,
            values={"notes": text},
            errors=["No front matter: start the file with a --- block giving at least date and interviewee."],
        )
    try:
        meta = yaml.safe_load(match["yaml"]) or {}
    except yaml.YAMLError as error:
        return Row(source=name, values={}, errors=[f"The front matter is not valid YAML ({_first_line(error)})."])
    if not isinstance(meta, dict):
        return Row(source=name, values={}, errors=["The front matter must be a list of “key: value” lines."])
    values, unknown = _mapped(meta)
    values["notes"] = match["body"].strip("\n")
    row = Row(source=name, values=values)
    row.errors.extend(f"{problem.capitalize()} in the front matter." for problem in unknown)
    return row


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0]


def read_files(files: list[tuple[str, bytes]]) -> list[Row]:
    """Rows from one CSV file, or from one or more Markdown files (one interview each)."""
    if not files:
        raise UnreadableFile("Choose a CSV file or Markdown files.")
    if sum(len(data) for _, data in files) > MAX_BYTES:
        raise UnreadableFile("The files are larger than 2 MB together.")
    csvs = [(n, d) for n, d in files if n.lower().endswith(".csv")]
    markdown = [(n, d) for n, d in files if n.lower().endswith(MARKDOWN_SUFFIXES)]
    others = [n for n, _ in files if not n.lower().endswith((".csv", *MARKDOWN_SUFFIXES))]
    if others:
        raise UnreadableFile(f"Only .csv and .md files can be imported, not {', '.join(others)}.")
    if csvs and (len(csvs) > 1 or markdown):
        raise UnreadableFile("Import one CSV file, or any number of Markdown files, at a time.")
    if csvs:
        return read_csv(csvs[0][1], csvs[0][0])
    if len(markdown) > MAX_ROWS:
        raise UnreadableFile(f"More than {MAX_ROWS} files: import them in batches.")
    return [read_markdown(data, name) for name, data in markdown]


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value).strip()


def _names(value: Any) -> list[str]:
    if value is None:
        return []
    items = value if isinstance(value, list) else re.split(r"[,;]", str(value))
    return [str(item).strip().lstrip("@") for item in items if str(item).strip()]


def check_rows(team: Team, rows: list[Row]) -> list[Row]:
    """Match personas and interviewers, then validate each row as the model does. Two queries."""
    personas = {p.name.lower(): p for p in Persona.objects.filter(team=team)}
    members = {u.username.lower(): u for u in User.objects.filter(memberships__team=team)}
    for row in rows:
        if row.errors:
            continue
        values, fields, errors = row.values, {}, row.errors
        held_on = values.get("held_on")
        if isinstance(held_on, datetime):
            held_on = held_on.date()
        if not isinstance(held_on, date):
            text = _text(held_on)
            try:
                held_on = parse_date(text) if text else None
            except ValueError:
                held_on = None
            if held_on is None:
                errors.append(
                    f"Date: “{text}” is not a date; write it as YYYY-MM-DD."
                    if text
                    else "Date: give the day it was held."
                )
        fields["held_on"] = held_on
        fields["interviewee_name"] = _text(values.get("interviewee_name"))
        fields["interviewee_role"] = _text(values.get("interviewee_role"))
        fields["interviewee_team"] = _text(values.get("interviewee_team"))
        notes = values.get("notes")
        fields["notes"] = notes if isinstance(notes, str) else _text(notes)
        fields["recording_url"] = _text(values.get("recording_url"))
        kind = _text(values.get("type")).lower()
        if kind and kind not in TYPE_NAMES:
            errors.append(f"Type: “{kind}” is not one of {', '.join(InterviewType.values)}.")
        fields["type"] = TYPE_NAMES.get(kind, InterviewType.USER)
        persona_name = _text(values.get("persona"))
        fields["persona"] = None
        if persona_name:
            fields["persona"] = personas.get(persona_name.lower())
            if fields["persona"] is None:
                errors.append(f"Persona: the team has no persona called “{persona_name}”; create it first.")
        try:
            tags = values.get("tags")
            fields["tags"] = normalise_tags(tags if isinstance(tags, list) else _text(tags))
        except ValidationError as error:
            errors.append(f"Tags: {' '.join(error.messages)}")
            fields["tags"] = []
        interviewers = []
        for username in _names(values.get("interviewers")):
            user = members.get(username.lower())
            if user is None:
                errors.append(f"Interviewers: “{username}” is not a member of the team.")
            else:
                interviewers.append(user)
        interview = Interview(team=team, **fields)
        try:
            interview.full_clean(exclude=["team", "persona", "created_by"])
        except ValidationError as error:
            for name, messages in error.message_dict.items():
                if name == "held_on" and fields["held_on"] is None:
                    continue  # already said
                label = Interview._meta.get_field(name).verbose_name.capitalize() if name != "__all__" else "Row"
                errors.extend(f"{label}: {message}" for message in messages)
        fields["interviewers"] = interviewers
        row.fields = fields
    return rows
