"""Teaching kit: question widgets that grade honestly, study cards, a glossary, and the student build.

Question forms (each commits first, then shows feedback; inputs lock on commit):

- :class:`MultipleChoice` (and :class:`PredictThenReveal`, which then reveals data): each wrong option is a
  real misconception with its own feedback;
- :class:`Numeric`: a number within a tolerance;
- :class:`Ordering` and :class:`Matching` (study to level, claim to verdict);
- :class:`FreeText`: never graded by the computer. The student commits, then sees a model answer and a rubric
  to assess the answer themself. Keyword matching was tried and rewarded "short rest muscle" and answers that
  negated every point, so free text is not marked at all.

Answers stay in the kernel until the commit: option *values*, misconception feedback, the grading function and
the revealed data live in Python objects; the widget models (which Voilà and JupyterLab send to the browser)
carry only labels and, after the commit, the feedback. The answers themselves come from the data: a level from
the derivation rule, a direction from the findings, a verdict from ``claims.csv``, a certainty from the Summary
of Findings.

Lesson notebooks take a papermill parameter ``variant``: ``"student"`` (widgets to answer) or ``"instructor"``
(every answer shown). :func:`student_copy` removes cells tagged ``solution`` or ``teacher-note`` and hides the
code of the rest.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import ipywidgets as widgets
import nbformat
import pandas as pd
from IPython.display import Markdown, display

from helpers import evidence, render

VARIANTS = ("student", "instructor")
STUDENT_ONLY_REMOVED_TAGS = ("solution", "teacher-note")
DIRECTION_WORDS = {
    "decrease": "goes down",
    "increase": "goes up",
    "no_change": "does not change",
    "mixed": "moves in different directions in different studies",
}
MARKS = {True: "✓", False: "✗", None: "○"}


@dataclass(frozen=True)
class Feedback:
    """The result of one committed answer: right (True), wrong (False) or not graded (None), and why.

    ``details`` lists per-item results (a matching or an ordering) as ``(correct, text)`` pairs.
    """

    correct: bool | None
    message: str
    details: tuple[tuple[bool | None, str], ...] = ()

    def _repr_markdown_(self) -> str:
        return render.markdown("{mark} {message}", mark=MARKS[self.correct], message=self.message)

    def html(self) -> str:
        items = "".join(
            str(render.html("<li>{mark} {text}</li>", mark=MARKS[ok], text=text)) for ok, text in self.details
        )
        body = str(render.html("<p class='exinf-feedback'>{mark} {message}</p>", mark=MARKS[self.correct],
                               message=self.message))  # fmt: skip
        return body + (f"<ul class='exinf-feedback-items'>{items}</ul>" if items else "")


def check_variant(variant: str) -> None:
    if variant not in VARIANTS:
        raise ValueError(f"variant={variant!r} is not valid; choose one of: {', '.join(VARIANTS)}")


def right_or_not(correct: bool, text: str) -> Feedback:
    """Feedback that starts by saying whether the answer was right."""
    return Feedback(correct, ("Right. " if correct else "Not quite. ") + text)


# --------------------------------------------------------------------------- answers from the data
def matching_findings(view: pd.DataFrame, **criteria) -> pd.DataFrame:
    """Rows of ``view`` whose columns match ``criteria`` (a value or a list of values per column).

    Raises:
        ValueError: when no finding matches (a question must rest on data).
    """
    rows = view
    for column, value in criteria.items():
        rows = rows[rows[column].isin([value] if isinstance(value, str) else list(value))]
    if rows.empty:
        raise ValueError(f"no findings match {criteria}")
    return rows


def _main_direction(rows: pd.DataFrame) -> str:
    counts = rows["direction"].value_counts()
    if len(counts) > 1 and counts.iloc[0] == counts.iloc[1]:
        return "mixed"
    return str(counts.index[0])


def observed_direction(view: pd.DataFrame, **criteria) -> str:
    """The main direction of the findings matching ``criteria`` (ties or disagreement -> "mixed").

    Examples:
        >>> toy = pd.DataFrame({"finding_id": ["a", "b", "c"], "study_id": ["s1", "s2", "s3"],
        ...                     "direction": ["increase", "increase", "no_change"],
        ...                     "outcome_code": ["il6", "il6", "il6"]})
        >>> observed_direction(toy, outcome_code="il6")
        'increase'
    """
    return _main_direction(matching_findings(view, **criteria))


def check_direction(view: pd.DataFrame, answer: str, **criteria) -> Feedback:
    """Check a predicted direction against the findings, naming the studies and the exceptions."""
    rows = matching_findings(view, **criteria)
    expected = _main_direction(rows)
    agreeing = rows[rows["direction"] == expected]["short_cite"].unique()
    others = rows[rows["direction"] != expected]
    exceptions = "; ".join(
        f"{c} ({d.replace('_', ' ')})"
        for c, d in others[["short_cite", "direction"]].drop_duplicates().itertuples(index=False)
    )
    evidence_text = (
        f"In the data it {DIRECTION_WORDS[expected]} in {len(rows[rows['direction'] == expected])} of "
        f"{len(rows)} findings ({', '.join(agreeing)})"
    )
    evidence_text += f"; exceptions: {exceptions}." if exceptions else "."
    if answer == expected:
        return Feedback(True, f"Right. {evidence_text}")
    return Feedback(False, f"Not quite: you predicted it {DIRECTION_WORDS.get(answer, answer)}. {evidence_text}")


def most_common_level(view: pd.DataFrame, **criteria) -> int:
    """The evidence level that holds most of the findings matching ``criteria``."""
    return int(matching_findings(view, **criteria)["evidence_level"].value_counts().idxmax())


def check_most_common_level(view: pd.DataFrame, answer: int, **criteria) -> Feedback:
    """Check a guess of where most of the findings sit on the evidence ladder."""
    counts = matching_findings(view, **criteria)["evidence_level"].value_counts()
    level = int(counts.idxmax())
    spread = ", ".join(f"level {int(k)}: {n}" for k, n in counts.sort_index().items())
    label = evidence.EVIDENCE_LEVELS[level]
    text = f"Most findings ({counts[level]} of {counts.sum()}) are level {level}, {label} ({spread})."
    return right_or_not(int(answer) == level, text)


SUPPORT_BINS = {"most": (0.5, 1.01), "about_a_third": (0.2, 0.5), "few": (0.0, 0.2)}


def check_supported_share(package, answer: str) -> Feedback:
    """Check a guess of how many of the articles' claims the evidence fully supports."""
    verdicts = package.claims["verdict"]
    share = (verdicts == "supported").mean()
    right = next(name for name, (low, high) in SUPPORT_BINS.items() if low <= share < high)
    counts = ", ".join(f"{n} {v.replace('_', ' ')}" for v, n in verdicts.value_counts().items())
    text = f"{(verdicts == 'supported').sum()} of {len(verdicts)} claims ({share:.0%}) are fully supported ({counts})."
    return right_or_not(answer == right, text)


def explain_level(studies: pd.DataFrame, designs: pd.DataFrame, species: pd.DataFrame, study_id: str) -> str:
    """Why a study sits at its evidence level, in words built from its design and species."""
    study = studies.set_index("study_id").loc[study_id]
    design = designs.set_index("design_code").loc[study["design_code"]]
    level = int(study["evidence_level"])
    species_label = species.set_index("species_code")["label"].get(study["species_code"], "unknown species")
    label = design["label"].lower()
    article = "an" if label[0] in "aeiou" else "a"
    if level == 5:
        reason = f"it is {article} {label}, which stays at level 5 whatever it is about"
    elif level in (6, 7):
        reason = f"it studied {species_label.lower()}, so it is level {level} whatever its design ({label})"
    else:
        reason = f"it is {article} {label} in humans"
    return f"{study['short_cite']} is level {level} ({evidence.EVIDENCE_LEVELS[level]}): {reason}."


def check_levels(package, answers: dict[str, int | None]) -> dict[str, Feedback]:
    """Check a student's evidence level for each study; wrong answers get the derivation explained."""
    studies = package.studies.set_index("study_id")
    results = {}
    for study_id, answer in answers.items():
        level = int(studies.at[study_id, "evidence_level"])
        why = explain_level(package.studies, package.designs, package.species, study_id)
        if answer is None:
            results[study_id] = Feedback(False, f"No level chosen. {why}")
        elif int(answer) == level:
            results[study_id] = Feedback(True, why)
        else:
            hint = _level_hint(int(answer), level)
            results[study_id] = Feedback(False, f"You chose level {answer}. {hint} {why}")
    return results


def _level_hint(chosen: int, right: int) -> str:
    if right in (6, 7) and chosen <= 4:
        return "A strong design does not lift animal or cell work above human studies."
    if right == 5:
        return "Reviews without a systematic method, abstracts and press releases sit at level 5."
    if chosen < right:
        return "That rates it as stronger evidence than it is."
    return "That rates it as weaker evidence than it is."


VERDICT_ORDER = ["supported", "partly_supported", "overstated", "not_supported"]


def check_verdict(package, claim_id: str, answer: str | None) -> Feedback:
    """Compare a student's verdict on a claim with the curated one, with its rationale."""
    claims = package.claims.set_index("claim_id")
    if claim_id not in claims.index:
        raise KeyError(f"unknown claim {claim_id!r}")
    claim = claims.loc[claim_id]
    curated = claim["verdict"]
    certainty = claim["certainty"].replace("_", " ")
    why = f"Curated verdict: {curated.replace('_', ' ')} (certainty {certainty}). {claim['rationale']}"
    if answer == curated:
        return Feedback(True, f"Same verdict as the curators. {why}")
    if answer in VERDICT_ORDER and curated in VERDICT_ORDER:
        lean = "more generous" if VERDICT_ORDER.index(answer) < VERDICT_ORDER.index(curated) else "stricter"
        return Feedback(False, f"Your verdict ({answer.replace('_', ' ')}) is {lean} than the evidence allows. {why}")
    return Feedback(False, f"Your verdict: {str(answer).replace('_', ' ')}. {why}")


def parse_number(text: str) -> float | None:
    """One number typed by a student (``-0.58``, ``−0,58``, ``128``), or None when it is not exactly one number.

    Examples:
        >>> parse_number(" −0,58 "), parse_number("128"), parse_number("19 or 128"), parse_number("lots")
        (-0.58, 128.0, None, None)
    """
    cleaned = text.strip().replace("−", "-").replace("–", "-").replace(",", ".")
    if not re.fullmatch(r"[-+]?(\d+(\.\d*)?|\.\d+)", cleaned):
        return None
    return float(cleaned)


# ------------------------------------------------------------------------------------ study cards
UNKNOWN = "not reported"
STUDY_CARD_COLUMNS = {
    "short_cite": "Study",
    "design": "Design",
    "species": "Species",
    "participants": "Participants (N)",
    "population": "Population",
    "measured": "What was measured",
}
MAX_MEASURES = 4


def study_cards(view: pd.DataFrame, study_ids: Sequence[str]) -> pd.DataFrame:
    """The facts a student needs to judge each study: design, species, N, population and what was measured.

    Everything comes from the data (studies and findings, through the evidence view); a blank stays
    blank and is said to be "not reported". No evidence level and no verdict: those are the answers.
    """
    rows = view[view["study_id"].isin(study_ids)]
    missing = sorted(set(study_ids) - set(rows["study_id"]))
    if missing:
        raise ValueError(f"no findings for studies {missing}: a study card rests on data")
    cards = []
    for study_id in study_ids:
        found = rows[rows["study_id"] == study_id]
        first = found.iloc[0]
        n, pooled = first["n_participants"], first["n_studies_pooled"]
        participants = UNKNOWN if pd.isna(n) else f"{int(n)}"
        if not pd.isna(pooled):
            participants += f" (in {int(pooled)} pooled studies)"
        measures = (
            found["outcome_label"].astype(str)
            + found["sample_matrix"].map(lambda m: "" if pd.isna(m) or m == "" else f" ({m})")
        ).drop_duplicates()
        measured = "; ".join(measures.head(MAX_MEASURES))
        if len(measures) > MAX_MEASURES:
            measured += f"; and {len(measures) - MAX_MEASURES} more"
        cards.append(
            {
                "study_id": study_id,
                "short_cite": first["short_cite"],
                "design": first["design_label"] if not pd.isna(first["design_label"]) else UNKNOWN,
                "species": first["species_label"] if not pd.isna(first["species_label"]) else UNKNOWN,
                "participants": participants,
                "population": UNKNOWN if pd.isna(first["population"]) else first["population"],
                "measured": measured,
            }
        )
    return pd.DataFrame(cards)


def study_card_html(card: pd.Series | dict) -> str:
    """One study card as a small HTML block (every value escaped)."""
    lines = "".join(
        str(render.html("<li><b>{label}:</b> {value}</li>", label=label, value=card[column]))
        for column, label in STUDY_CARD_COLUMNS.items()
        if column != "short_cite"
    )
    return str(render.html("<div class='exinf-study-card'><b>{cite}</b>", cite=card["short_cite"])) + (
        f"<ul>{lines}</ul></div>"
    )


# ------------------------------------------------------------------------------------- glossary
def glossary(package) -> pd.DataFrame:
    """Terms of the lessons, generated from the outcome vocabulary and the evidence ladder."""
    outcomes = package.outcomes.assign(
        term=package.outcomes["label"],
        kind=package.outcomes["marker_class"].str.replace("_", " "),
        meaning=package.outcomes["description"]
        + " Usually good when it "
        + package.outcomes["favourable_direction"].map(
            {"decrease": "goes down.", "increase": "goes up.", "context": "depends on timing and setting."}
        ),
    )
    used = outcomes[outcomes["outcome_code"].isin(package.findings["outcome_code"])]
    levels = pd.DataFrame(
        {
            "term": [f"Evidence level {k}" for k in evidence.EVIDENCE_LEVELS],
            "kind": "evidence level",
            "meaning": list(evidence.EVIDENCE_LEVELS.values()),
        }
    )
    return (
        pd.concat([used[["term", "kind", "meaning"]], levels], ignore_index=True)
        .sort_values(["kind", "term"], key=lambda s: s.str.lower())
        .reset_index(drop=True)
    )


# ------------------------------------------------------------------------------------- widgets
def _in_kernel() -> bool:
    from IPython import get_ipython

    return get_ipython() is not None


class Question:
    """Commit first, then feedback: the shared behaviour of every question widget.

    Subclasses give the inputs (:meth:`inputs`), the current answer (:meth:`answer`, None while incomplete) and
    the grading (:meth:`grade`, run in the kernel on commit). ``reveal`` draws data shown after the commit.
    """

    header = "Question"
    commit_label = "Commit my answer"

    def __init__(self, question: str, variant: str = "student", reveal: Callable[[], object] | None = None):
        check_variant(variant)
        self.question, self.variant, self.reveal_data = question, variant, reveal
        self.commit = widgets.Button(
            description=self.commit_label,
            button_style="primary",
            icon="lock",
            layout=widgets.Layout(width="fit-content", max_width="100%", align_self="flex-start"),
        )
        self.status = widgets.HTML()
        self.output = widgets.Output()
        self.feedback: Feedback | None = None
        self._listeners: list[Callable[[Question], None]] = []
        self.commit.on_click(lambda _button: self.submit())

    # -- to implement
    def inputs(self) -> list[widgets.Widget]:
        raise NotImplementedError

    def answer(self):
        raise NotImplementedError

    def grade(self, answer) -> Feedback:
        raise NotImplementedError

    def answer_key(self) -> str:
        """The answer and its explanation, as Markdown (instructor variant)."""
        raise NotImplementedError

    # -- shared
    @property
    def committed(self) -> bool:
        return self.feedback is not None

    def _ready(self, *_args) -> None:
        self.commit.disabled = self.committed or self.answer() is None

    def _watch(self, *controls: widgets.Widget) -> None:
        for control in controls:
            control.observe(self._ready, names="value")
        self._ready()

    def on_commit(self, callback: Callable[[Question], None]) -> None:
        """Call ``callback(question)`` once the student has committed."""
        self._listeners.append(callback)
        if self.committed:
            callback(self)

    def submit(self) -> Feedback:
        """Lock the answer, grade it in the kernel, then show the feedback and the data."""
        if self.committed:
            return self.feedback
        answer = self.answer()
        if answer is None:
            raise ValueError("answer the question before committing")
        self.feedback = self.grade(answer)
        for control in self.inputs():
            control.disabled = True
        self._ready()
        self.status.value = self.feedback.html()
        if self.reveal_data is not None and _in_kernel():
            with self.output:
                display(self.reveal_data())
        for callback in self._listeners:
            callback(self)
        return self.feedback

    def widget(self) -> widgets.Widget:
        header = widgets.HTML(str(render.html("<p><b>{h}:</b> {q}</p>", h=self.header, q=self.question)))
        return widgets.VBox(
            [header, *self.inputs(), self.commit, self.status, self.output], layout=widgets.Layout(max_width="100%")
        )

    def _ipython_display_(self) -> None:
        if self.variant == "instructor":
            display(render.markdown("**{h}:** {q}", h=self.header, q=self.question))
            if self.reveal_data is not None:
                display(self.reveal_data())
            display(Markdown(self.answer_key()))
        else:
            display(self.widget())


@dataclass(frozen=True)
class Choice:
    """One option of a multiple-choice question; ``misconception`` explains why someone picks it wrongly."""

    label: str
    key: object
    misconception: str = ""


def _choices(options: Iterable) -> list[Choice]:
    return [option if isinstance(option, Choice) else Choice(*option) for option in options]


class MultipleChoice(Question):
    """One answer from a list. ``check(key)`` grades it from the data; a wrong option adds its misconception."""

    def __init__(
        self,
        question: str,
        options: Iterable[Choice | tuple],
        check: Callable[[object], Feedback],
        variant: str = "student",
        reveal: Callable[[], object] | None = None,
    ):
        super().__init__(question, variant, reveal)
        self.choices, self.check = _choices(options), check
        # The widget holds labels and an index only; keys and misconceptions stay here in the kernel.
        self.choice = widgets.RadioButtons(
            options=[(c.label, i) for i, c in enumerate(self.choices)], value=None, layout=widgets.Layout(width="auto")
        )
        self._watch(self.choice)

    @property
    def prediction(self):
        """The committed key (None before the commit)."""
        return self.choices[self.choice.value].key if self.committed else None

    def inputs(self) -> list[widgets.Widget]:
        return [self.choice]

    def answer(self):
        return None if self.choice.value is None else self.choices[self.choice.value]

    def grade(self, answer: Choice) -> Feedback:
        result = self.check(answer.key)
        if result.correct is False and answer.misconception:
            return Feedback(False, f"{answer.misconception} {result.message}", result.details)
        return result

    def correct_choices(self) -> list[Choice]:
        return [c for c in self.choices if self.check(c.key).correct]

    def answer_key(self) -> str:
        right = self.correct_choices()
        lines = [
            render.markdown("**Answer:** {label}. {why}", label=right[0].label, why=self.check(right[0].key).message)
        ]
        lines += [
            render.markdown("- *{label}*: {why}", label=c.label, why=c.misconception)
            for c in self.choices
            if c not in right and c.misconception
        ]
        if len(lines) > 1:
            lines.insert(1, "\n**The wrong options and the misconception behind each:**\n")
        return "\n".join(lines)


class PredictThenReveal(MultipleChoice):
    """A prediction committed before the data is shown; the data and the feedback appear on commit."""

    header = "Predict first"
    commit_label = "Commit my prediction"


class Numeric(Question):
    """A number, right within ``tolerance`` of ``answer()`` (read from the data at grading time)."""

    def __init__(
        self,
        question: str,
        answer: Callable[[], float],
        tolerance: float,
        explain: Callable[[], str],
        unit: str = "",
        variant: str = "student",
        reveal: Callable[[], object] | None = None,
    ):
        super().__init__(question, variant, reveal)
        self.expected, self.tolerance, self.explain, self.unit = answer, tolerance, explain, unit
        self.text = widgets.Text(placeholder="a number, e.g. -0.25", description=unit or "Value",
                                 layout=widgets.Layout(width="260px"))  # fmt: skip
        self._watch(self.text)

    def inputs(self) -> list[widgets.Widget]:
        return [self.text]

    def answer(self):
        return parse_number(self.text.value)

    def grade(self, answer: float) -> Feedback:
        value = float(self.expected())
        close = math.isclose(answer, value, abs_tol=self.tolerance)
        text = f"You entered {answer:g}; the data say {value:g} (answers within ±{self.tolerance:g} count). "
        return right_or_not(close, text + self.explain())

    def answer_key(self) -> str:
        return render.markdown(
            "**Answer:** {value} (±{tol}). {why}", value=f"{self.expected():g}", tol=f"{self.tolerance:g}",
            why=self.explain(),
        )  # fmt: skip


class Ordering(Question):
    """Put items in order (first = ``first_label``). Right when the order agrees with ``ranks()`` (ties allowed)."""

    def __init__(
        self,
        question: str,
        items: dict[str, str],
        ranks: Callable[[], dict[str, float]],
        explain: Callable[[str], str],
        first_label: str = "first",
        variant: str = "student",
    ):
        super().__init__(question, variant)
        self.items, self.ranks, self.explain = items, ranks, explain
        options = [("choose…", None)] + [(label, i) for i, label in enumerate(items.values())]
        self.slots = [
            widgets.Dropdown(
                description=f"{n}." + (f" ({first_label})" if n == 1 else ""), options=options, index=0,
                style={"description_width": "110px"}, layout=widgets.Layout(width="min(560px, 100%)"),
            )
            for n in range(1, len(items) + 1)
        ]  # fmt: skip
        self._watch(*self.slots)

    def inputs(self) -> list[widgets.Widget]:
        return self.slots

    def answer(self):
        chosen = [slot.value for slot in self.slots]
        if None in chosen or len(set(chosen)) != len(chosen):
            return None
        keys = list(self.items)
        return [keys[i] for i in chosen]

    def grade(self, order: list[str]) -> Feedback:
        ranks = self.ranks()
        wrong = [(a, b) for i, a in enumerate(order) for b in order[i + 1 :] if ranks[a] > ranks[b]]
        details = tuple((ranks[k] == sorted(ranks.values())[i], self.explain(k)) for i, k in enumerate(order))
        if not wrong:
            return Feedback(True, "Right order.", details)
        first, second = wrong[0]
        text = (
            f"{len(wrong)} pair(s) out of order; for example {self.items[first]} should come after "
            f"{self.items[second]}."
        )
        return Feedback(False, "Not quite. " + text, details)

    def answer_key(self) -> str:
        ranks = self.ranks()
        ordered = sorted(self.items, key=lambda k: ranks[k])
        return "**Answer (in order):**\n\n" + "\n".join(
            render.markdown("1. {why}", why=self.explain(k)) for k in ordered
        )


class Matching(Question):
    """Match each item to one option (a study to a level, a claim to a verdict); every item gets feedback.

    ``check(answers)`` returns a :class:`Feedback` per item; ``cards`` (HTML per item) give the facts to judge by.
    """

    def __init__(
        self,
        question: str,
        items: dict[str, str],
        options: list[tuple[str, object]],
        check: Callable[[dict[str, object]], dict[str, Feedback]],
        cards: dict[str, str] | None = None,
        variant: str = "student",
        reveal: Callable[[], object] | None = None,
    ):
        super().__init__(question, variant, reveal)
        self.items, self.check, self.cards = items, check, cards or {}
        self.values = [value for _, value in options]
        choices = [("choose…", None)] + [(label, i) for i, (label, _) in enumerate(options)]
        self.choices = {
            key: widgets.Dropdown(options=choices, index=0, layout=widgets.Layout(width="min(420px, 100%)"))
            for key in items
        }
        self._watch(*self.choices.values())

    def select(self, key: str, value: object) -> None:
        """Choose ``value`` for ``key`` (as a student would in the dropdown)."""
        self.choices[key].value = self.values.index(value)

    def inputs(self) -> list[widgets.Widget]:
        return list(self.choices.values())

    def answer(self):
        if any(c.value is None for c in self.choices.values()):
            return None
        return {key: self.values[c.value] for key, c in self.choices.items()}

    def grade(self, answers: dict[str, object]) -> Feedback:
        results = self.check(answers)
        right = sum(bool(f.correct) for f in results.values())
        details = tuple((f.correct, f"{self.items[k]} → {f.message}") for k, f in results.items())
        return Feedback(right == len(results), f"{right} of {len(results)} right.", details)

    def widget(self) -> widgets.Widget:
        rows = []
        for key, label in self.items.items():
            text = render.html("<p><b>{label}</b></p>", label=label)
            rows.append(widgets.HTML(str(text) + self.cards.get(key, ""), layout=widgets.Layout(max_width="100%")))
            rows.append(self.choices[key])
        header = widgets.HTML(str(render.html("<p><b>{h}:</b> {q}</p>", h=self.header, q=self.question)))
        return widgets.VBox([header, *rows, self.commit, self.status, self.output])

    def answer_key(self) -> str:
        right = {}
        for key in self.items:
            for value in self.values:
                feedback = self.check({key: value})[key]
                if feedback.correct:
                    right[key] = feedback.message
                    break
        return "**Answers.**\n\n" + "\n".join(
            render.markdown("- **{item}**: {why}", item=self.items[k], why=why) for k, why in right.items()
        )


class FreeText(Question):
    """A written answer: committed, then compared with a model answer and a rubric by the student.

    Never graded by the computer (its feedback is ``correct=None``): the ticks of the rubric are the student's own
    assessment. The model answer is computed or looked up only on commit, so it is not in the widget before.
    """

    commit_label = "Commit my answer and show the model answer"
    MIN_WORDS = 5

    def __init__(self, question: str, model_answer: Callable[[], str], rubric: Sequence[str],
                 variant: str = "student"):  # fmt: skip
        super().__init__(question, variant)
        self.model_answer, self.rubric = model_answer, list(rubric)
        self.text = widgets.Textarea(
            placeholder=f"Your answer (at least {self.MIN_WORDS} words)…",
            layout=widgets.Layout(width="min(640px, 100%)", height="90px"),
        )
        self.ticks: list[widgets.Checkbox] = []
        self.assessment = widgets.VBox()
        self._watch(self.text)

    def inputs(self) -> list[widgets.Widget]:
        return [self.text]

    def answer(self):
        return self.text.value if len(self.text.value.split()) >= self.MIN_WORDS else None

    def grade(self, answer: str) -> Feedback:
        self.ticks = [widgets.Checkbox(description=point, value=False, indent=False,
                                       layout=widgets.Layout(width="auto")) for point in self.rubric]  # fmt: skip
        self.assessment.children = [widgets.HTML("<p><b>Tick what your answer covers:</b></p>"), *self.ticks]
        message = (
            "Not marked by the computer: compare your answer with the model answer below and tick what it covers. "
            "Model answer: " + self.model_answer()
        )
        return Feedback(None, message)

    @property
    def self_assessment(self) -> dict[str, bool]:
        return {tick.description: tick.value for tick in self.ticks}

    def widget(self) -> widgets.Widget:
        base = super().widget()
        base.children = (*base.children, self.assessment)
        return base

    def answer_key(self) -> str:
        points = "\n".join(render.markdown("- {p}", p=p) for p in self.rubric)
        return render.markdown("**Model answer:** {a}\n\n**Rubric (a good answer):**\n\n", a=self.model_answer()) + (
            points
        )


class Unlock:
    """Content that opens only after the student has committed to ``questions`` (e.g. an explorer of answers)."""

    def __init__(self, questions: Question | Sequence[Question], show: Callable[[], object], locked: str,
                 variant: str = "student"):  # fmt: skip
        check_variant(variant)
        self.questions = [questions] if isinstance(questions, Question) else list(questions)
        self.show, self.variant = show, variant
        self.notice = widgets.HTML(str(render.html("<p><i>🔒 {text}</i></p>", text=locked)))
        self.output = widgets.Output()
        self.opened = False
        for question in self.questions:
            question.on_commit(lambda _q: self._maybe_open())

    def _maybe_open(self) -> None:
        if self.opened or not all(q.committed for q in self.questions):
            return
        self.opened = True
        self.notice.value = ""
        if _in_kernel():
            with self.output:
                self._display_content()

    def _display_content(self) -> None:
        content = self.show()
        for part in content if isinstance(content, list | tuple) else [content]:
            display(part)

    def _ipython_display_(self) -> None:
        if self.variant == "instructor":
            self._display_content()
        else:
            display(widgets.VBox([self.notice, self.output]))


LEVEL_OPTIONS = [(f"{k}. {v}", k) for k, v in evidence.EVIDENCE_LEVELS.items()]


def classify_levels(package, view: pd.DataFrame, study_ids: Sequence[str], variant: str = "student") -> Matching:
    """Place studies on the evidence ladder from their study cards; every answer is explained by the rule."""
    cards = study_cards(view, study_ids).set_index("study_id")
    return Matching(
        "Place each study on the evidence ladder, using its study card.",
        {s: cards.at[s, "short_cite"] for s in study_ids},
        LEVEL_OPTIONS,
        lambda answers: check_levels(package, answers),
        cards={s: study_card_html(cards.loc[s].to_dict() | {"short_cite": ""}) for s in study_ids},
        variant=variant,
    )


def claim_findings(package, view: pd.DataFrame, claim_id: str) -> pd.DataFrame:
    """The findings a claim's evidence reports (what was measured, the direction, the effect, where it was read).

    Curated judgments are left out on purpose: no verdict, no "supports / contradicts" relation and no curator note,
    so that students grade the claim from the evidence itself.
    """
    links = package.claim_evidence[package.claim_evidence["claim_id"] == claim_id]
    by_finding = view[view["finding_id"].isin(links["finding_id"].dropna())]
    whole_studies = links[links["finding_id"].isna()]["study_id"]
    rows = pd.concat([by_finding, view[view["study_id"].isin(whole_studies)]]).drop_duplicates("finding_id")
    return rows.assign(
        direction_text=rows["direction"].astype(str).str.replace("_", " "),
        timing=rows["timeframe"].astype(str).str.replace("_", " "),
    )


CLAIM_FINDING_COLUMNS = {
    "short_cite": "Study",
    "outcome_detail": "Measured",
    "subgroup": "Subgroup",
    "timing": "Timeframe",
    "direction_text": "Direction",
    "source_location": "Read in",
}


def grade_claims(package, view: pd.DataFrame, claim_ids: Sequence[str], variant: str = "student") -> Matching:
    """Grade claims against the studies behind them (study cards and findings), then compare with the curators."""
    claims = package.claims.set_index("claim_id")
    verdicts = next(f for f in package.schema("claims")["fields"] if f["name"] == "verdict")["constraints"]["enum"]
    cards = {}
    for claim_id in claim_ids:
        found = claim_findings(package, view, claim_id)
        studies = study_cards(view, list(dict.fromkeys(found["study_id"])))
        table = render.table(found.head(12), CLAIM_FINDING_COLUMNS, max_rows=12)
        cards[claim_id] = (
            "<details><summary>The evidence behind this claim: "
            + str(render.html("{n} studies, {k} findings", n=len(studies), k=len(found)))
            + "</summary>"
            + "".join(study_card_html(card) for card in studies.to_dict("records"))
            + f"<div style='max-width:calc(100vw - 48px);overflow-x:auto'>{table}</div>"
            + "</details>"
        )
    return Matching(
        "Read each claim and the evidence behind it, then choose a verdict.",
        {c: f"{c}: {claims.at[c, 'claim']}" for c in claim_ids},
        [(v.replace("_", " "), v) for v in verdicts],
        lambda answers: {c: check_verdict(package, c, v) for c, v in answers.items()},
        cards=cards,
        variant=variant,
    )


def show_solution(variant: str, text: str) -> None:
    """Show a worked solution in the instructor variant only (the cell is removed from student copies)."""
    check_variant(variant)
    if variant == "instructor":
        display(Markdown("**Solution.** " + text.strip()))


def teacher_note(variant: str, text: str) -> None:
    """Show a teaching note in the instructor variant only (the cell is removed from student copies)."""
    check_variant(variant)
    if variant == "instructor":
        display(Markdown("**Teaching note.** " + text.strip()))


# ------------------------------------------------------------------------------------- builds
def student_copy(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The notebook to hand out: solution and teacher-note cells removed, code hidden, every output cleared.

    Code cells keep their source (the kernel needs it) but are collapsed in JupyterLab (``source_hidden``) and
    tagged ``hide-input`` for other front ends; Voilà never shows code.
    """
    copy = nbformat.from_dict(notebook)
    copy.cells = [c for c in copy.cells if not set(c.metadata.get("tags", [])) & set(STUDENT_ONLY_REMOVED_TAGS)]
    for cell in copy.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
            cell.metadata.setdefault("jupyter", {})["source_hidden"] = True
            tags = cell.metadata.setdefault("tags", [])
            if "hide-input" not in tags:
                tags.append("hide-input")
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
    copy.metadata.pop("papermill", None)
    copy.metadata.pop("widgets", None)
    return copy
