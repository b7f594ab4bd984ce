"""Read-only views over a validated, normalised programme definition."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property
from typing import Any


@dataclass(frozen=True)
class FormDef:
    """A form: sections of fields, as normalised by the validator."""

    raw: dict[str, Any]

    @property
    def key(self) -> str:
        """The form's key."""
        return str(self.raw["key"])

    @cached_property
    def fields(self) -> list[dict[str, Any]]:
        """All fields of all sections, in order."""
        return [f for section in self.raw["sections"] for f in section["fields"]]

    @cached_property
    def by_key(self) -> dict[str, dict[str, Any]]:
        """Fields by key."""
        return {f["key"]: f for f in self.fields}

    @property
    def file_fields(self) -> list[dict[str, Any]]:
        """The fields that take uploaded files."""
        return [f for f in self.fields if f["type"] == "file"]


@dataclass(frozen=True)
class RubricDef:
    """A rubric: a tree of criteria; experts score the leaves."""

    raw: dict[str, Any]

    @cached_property
    def leaves(self) -> list[dict[str, Any]]:
        """The criteria that get points, in order."""
        out: list[dict[str, Any]] = []

        def walk(items: list[dict[str, Any]]) -> None:
            for item in items:
                if item["criteria"]:
                    walk(item["criteria"])
                else:
                    out.append(item)

        walk(self.raw["criteria"])
        return out

    @property
    def max(self) -> float:
        """The highest total a sheet can reach."""
        return float(self.raw["max"])


@dataclass(frozen=True)
class ReviewRound:
    """A review state seen as a round: its rubric, weight, aggregation, blindness and quorum."""

    name: str  # the review state
    label: str
    rubric: RubricDef
    weight: Decimal
    aggregation: dict[str, Any]  # the round's own, else the workflow's `reviews.aggregation`
    blind: bool
    quorum: int | None  # submitted sheets per entry needed to close; None: every active sheet
    live: bool  # scored on site: a panel's chair opens one entry at a time
    label_en: str = ""  # the English label: the round's, else the state's ("": Chinese shown)


class Programme:
    """A workflow with its forms and rubrics: the unit that is versioned and pinned."""

    def __init__(self, bundle: dict[str, Any], source_files: dict[str, str],
                 raw: dict[str, Any]) -> None:
        self.bundle = bundle
        self.raw = raw
        self.workflow: dict[str, Any] = bundle["workflow"]
        self.source_files = source_files
        self.forms = {key: FormDef(raw) for key, raw in bundle["forms"].items()}
        self.rubrics = {key: RubricDef(raw) for key, raw in bundle["rubrics"].items()}
        self.states = {s["name"]: s for s in self.workflow["states"]}

    key = property(lambda self: str(self.workflow["key"]), doc="The programme key.")
    version = property(lambda self: int(self.workflow["version"]), doc="The version number.")
    title = property(lambda self: str(self.workflow["title"]), doc="The Chinese title.")
    initial = property(lambda self: str(self.workflow["initial"]), doc="The initial state.")

    @cached_property
    def checksum(self) -> str:
        """SHA-256 of the documents as written (canonical JSON): comments and layout don't count."""
        return checksum(self.raw)

    @property
    def application_form(self) -> FormDef:
        """The form applicants fill in."""
        return self.forms[self.workflow["form"]]

    @property
    def transitions(self) -> list[dict[str, Any]]:
        """All transitions, in definition order."""
        return list(self.workflow["transitions"])

    def transitions_from(self, state: str) -> list[dict[str, Any]]:
        """The transitions that leave `state`."""
        return [t for t in self.workflow["transitions"] if state in t["source"]]

    def transition(self, trigger: str, state: str) -> dict[str, Any] | None:
        """The transition fired by `trigger` from `state`, if any."""
        for t in self.transitions_from(state):
            if t["trigger"] == trigger:
                return t
        return None

    def has_trigger(self, trigger: str) -> bool:
        """Whether any transition uses `trigger`."""
        return any(t["trigger"] == trigger for t in self.workflow["transitions"])

    def label(self, state: str) -> str:
        """The Chinese label of a state."""
        return str(self.states[state]["label"]) if state in self.states else state

    def is_final(self, state: str) -> bool:
        """Whether nothing can leave `state`."""
        return bool(self.states[state]["final"])

    @cached_property
    def rounds(self) -> dict[str, ReviewRound]:
        """The review rounds by state name, in the order the states are listed."""
        rounds = {}
        for state in self.workflow["states"]:
            review = state["review"]
            if review:
                rounds[state["name"]] = ReviewRound(
                    name=state["name"], label=review["label"] or state["label"],
                    rubric=self.rubrics[review["rubric"]], weight=Decimal(review["weight"]),
                    aggregation=review["aggregation"] or self.workflow["reviews"]["aggregation"],
                    blind=review["blind"], quorum=review["quorum"], live=review["live"],
                    label_en=review.get("label_en") or state["label_en"])
        return rounds

    def review_round(self, state: str) -> ReviewRound | None:
        """The round running while an entry is in `state`, if it is a review state."""
        return self.rounds.get(state)

    def review_rubric(self, state: str) -> RubricDef | None:
        """The rubric experts score with while an entry is in `state`, if it is a review state."""
        found = self.rounds.get(state)
        return found.rubric if found else None

    def editable(self, state: str) -> bool:
        """Whether the applicant may change the form in `state` (all of it, or its stage)."""
        return bool(self.states[state]["editable"] or self.states[state]["fill"])

    @cached_property
    def stage_sections(self) -> dict[str, str]:
        """Section key → the state in which the applicant fills that section in (``fill``)."""
        return {key: state["name"] for state in self.workflow["states"] for key in state["fill"]}

    def form_shown(self, application: Any) -> FormDef:
        """The application form as an entry shows it: without the stage sections of states it
        has not reached yet (it is in the state now, or its history went there)."""
        form = self.application_form.raw
        if not self.stage_sections:
            return self.application_form
        reached = {application.state} | {entry.to_state for entry in application.history}
        sections = [s for s in form["sections"]
                    if s["key"] not in self.stage_sections or self.stage_sections[s["key"]]
                    in reached]
        if len(sections) == len(form["sections"]):
            return self.application_form
        return FormDef({**form, "sections": sections})

    def form_in(self, state: str) -> FormDef:
        """The part of the application form the applicant fills in while in ``state``: the
        state's ``fill`` sections, or else every section that no stage fills in."""
        if not self.stage_sections:
            return self.application_form
        cache: dict[str, FormDef] = self.__dict__.setdefault("_forms_in", {})
        if state not in cache:
            form = self.application_form.raw
            wanted = set(self.states[state]["fill"]) if state in self.states else set()
            sections = [s for s in form["sections"]
                        if (s["key"] in wanted if wanted else s["key"] not in self.stage_sections)]
            cache[state] = FormDef({**form, "key": f"{form['key']}@{state}",
                                    "sections": sections})
        return cache[state]


def checksum(bundle: dict[str, Any]) -> str:
    """Hash a bundle in a canonical form, so formatting and key order do not matter."""
    text = json.dumps(bundle, sort_keys=True, ensure_ascii=False, separators=(",", ":"),
                      default=str)  # YAML may hold dates
    return hashlib.sha256(text.encode()).hexdigest()
