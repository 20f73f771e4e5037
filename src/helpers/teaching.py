"""Teaching kit: answer checkers with specific feedback, predict-then-reveal widgets, a glossary,
and the student/instructor builds of the lesson notebooks.

Answers come from the data wherever possible: an evidence level from the derivation rule, a
direction from the findings, a verdict from ``claims.csv``. So a checker explains *why* an answer
is wrong from the same facts the explorer shows, and no answer key sits in the student notebook.

Lesson notebooks take a papermill parameter ``variant``: ``"student"`` (interactive widgets,
no solutions) or ``"instructor"`` (predictions revealed, solutions and teaching notes shown).
Cells tagged ``solution`` or ``teacher-note`` are removed from the student build altogether.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
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


@dataclass(frozen=True)
class Feedback:
    """The result of checking one answer: right or not, and why."""

    correct: bool
    message: str

    def _repr_markdown_(self) -> str:
        return render.markdown("{mark} {message}", mark="✓" if self.correct else "✗", message=self.message)


def check_variant(variant: str) -> None:
    if variant not in VARIANTS:
        raise ValueError(f"variant={variant!r} is not valid; choose one of: {', '.join(VARIANTS)}")


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
    return Feedback(int(answer) == level, ("Right. " if int(answer) == level else "Not quite. ") + text)


SUPPORT_BINS = {"most": (0.5, 1.01), "about_a_third": (0.2, 0.5), "few": (0.0, 0.2)}


def check_supported_share(package, answer: str) -> Feedback:
    """Check a guess of how many of the articles' claims the evidence fully supports."""
    verdicts = package.claims["verdict"]
    share = (verdicts == "supported").mean()
    right = next(name for name, (low, high) in SUPPORT_BINS.items() if low <= share < high)
    counts = ", ".join(f"{n} {v.replace('_', ' ')}" for v, n in verdicts.value_counts().items())
    text = f"{(verdicts == 'supported').sum()} of {len(verdicts)} claims ({share:.0%}) are fully supported ({counts})."
    return Feedback(answer == right, ("Right. " if answer == right else "Not quite. ") + text)


def explain_level(studies: pd.DataFrame, designs: pd.DataFrame, species: pd.DataFrame, study_id: str) -> str:
    """Why a study sits at its evidence level, in words built from its design and species."""
    study = studies.set_index("study_id").loc[study_id]
    design = designs.set_index("design_code").loc[study["design_code"]]
    level = int(study["evidence_level"])
    species_label = species.set_index("species_code")["label"].get(study["species_code"], "unknown species")
    if level == 5:
        label = design["label"].lower()
        reason = f"it is {'an' if label[0] in 'aeiou' else 'a'} {label}, which stays at level 5 whatever it is about"
    elif level in (6, 7):
        design_label = design["label"].lower()
        reason = f"it studied {species_label.lower()}, so it is level {level} whatever its design ({design_label})"
    else:
        label = design["label"].lower()
        reason = f"it is {'an' if label[0] in 'aeiou' else 'a'} {label} in humans"
    return f"{study['short_cite']} is level {level} ({evidence.EVIDENCE_LEVELS[level]}): {reason}."


def check_levels(package, answers: dict[str, int]) -> dict[str, Feedback]:
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


def check_verdict(package, claim_id: str, answer: str) -> Feedback:
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
    order = ["supported", "partly_supported", "overstated", "not_supported"]
    if answer in order and curated in order:
        lean = "more generous" if order.index(answer) < order.index(curated) else "stricter"
        return Feedback(False, f"Your verdict ({answer.replace('_', ' ')}) is {lean} than the evidence allows. {why}")
    return Feedback(False, f"Your verdict: {str(answer).replace('_', ' ')}. {why}")


@dataclass(frozen=True)
class ShortAnswer:
    """A short-answer question checked by concepts: each concept is a set of accepted words or phrases.

    ``misconceptions`` map a regular expression to specific feedback, checked first.
    """

    question: str
    concepts: dict[str, tuple[str, ...]]
    misconceptions: dict[str, str]

    def check(self, text: str) -> Feedback:
        answer = " " + re.sub(r"\s+", " ", text.lower()) + " "
        for pattern, message in self.misconceptions.items():
            if re.search(pattern, answer):
                return Feedback(False, message)
        missing = [name for name, words in self.concepts.items() if not any(w in answer for w in words)]
        if not text.strip():
            return Feedback(False, "Write an answer first.")
        if missing:
            return Feedback(False, "Good start, but your answer does not yet mention: " + "; ".join(missing) + ".")
        return Feedback(True, "Your answer covers the key points: " + "; ".join(self.concepts) + ".")


#: The short-answer questions of the lessons.
SHORT_ANSWERS: dict[str, ShortAnswer] = {
    "il6_two_faces": ShortAnswer(
        "IL-6 rises during a workout, yet trained people tend to have lower resting IL-6. How can both be true?",
        {
            "the rise is short-lived (acute, hours)": ("short", "brief", "transient", "acute", "temporar", "hours"),
            "the lower level is at rest after weeks of training (chronic)": (
                "rest",
                "baseline",
                "training",
                "chronic",
                "weeks",
                "regular",
                "long-term",
                "long term",
            ),
            "muscle-made IL-6 sets off anti-inflammatory signals (IL-10, IL-1ra)": (
                "il-10",
                "il10",
                "il-1ra",
                "il1ra",
                "anti-inflammatory",
                "myokine",
                "muscle",
            ),
        },
        {
            r"\bil-?6 is (always |just |only )?(bad|harmful|pro-inflammatory)\b": (
                "IL-6 is not simply 'bad': the rise during exercise comes from working muscle and is followed by "
                "anti-inflammatory signals (Steensberg 2003: IL-1ra and IL-10 rose after IL-6 infusion)."
            )
        },
    ),
    "mouse_to_athlete": ShortAnswer(
        "Langston 2023 found that muscle regulatory T cells help mice benefit from training. Why is that weak "
        "evidence for advice to athletes?",
        {
            "it was done in mice, not people": ("mouse", "mice", "animal", "rodent"),
            "results may not carry over to humans or athletes": (
                "human",
                "people",
                "athlete",
                "translate",
                "extrapolat",
                "carry over",
                "apply",
            ),
        },
        {
            r"\bsmall sample\b|\bonly \d+ (people|participants)\b": (
                "Sample size is not the main problem here: the participants were mice, "
                "so nothing was measured in people."
            )
        },
    ),
    "press_release_number": ShortAnswer(
        "News stories about the 20-minute treadmill study say TNF-producing immune cells fell by 5 %. Where does "
        "that number come from, and what did the blood plasma show?",
        {
            "the 5 % comes from a press release / quote, not the paper's abstract": (
                "press",
                "release",
                "quote",
                "news",
                "media",
                "not in the abstract",
            ),
            "plasma TNF did not change": ("did not change", "didn't change", "no change", "unchanged", "not change"),
        },
        {r"\bmeta-?analys": "Dimitrov 2017 is a single pre/post study of 47 people, not a meta-analysis."},
    ),
}


def check_short_answer(question_id: str, text: str) -> Feedback:
    """Check a short answer to one of :data:`SHORT_ANSWERS`."""
    if question_id not in SHORT_ANSWERS:
        raise KeyError(f"unknown question {question_id!r}; questions: {', '.join(SHORT_ANSWERS)}")
    return SHORT_ANSWERS[question_id].check(text)


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
class PredictThenReveal:
    """The student commits a prediction before the data is shown; then data and feedback appear.

    ``reveal`` draws the data (a chart or table); ``check`` turns the prediction into feedback.
    In the instructor variant the data and the answer are shown straight away.
    """

    def __init__(
        self,
        question: str,
        options: list[tuple[str, str]],
        reveal: Callable[[], object],
        check: Callable[[str], Feedback],
        variant: str = "student",
    ):
        check_variant(variant)
        self.question, self.reveal_data, self.check, self.variant = question, reveal, check, variant
        self.choice = widgets.RadioButtons(options=options, value=None, layout=widgets.Layout(width="auto"))
        self.commit = widgets.Button(
            description="Commit my prediction",
            button_style="primary",
            icon="lock",
            layout=widgets.Layout(width="230px"),
        )
        self.output = widgets.Output()
        self.status = widgets.HTML()
        self.prediction: str | None = None
        self.feedback: Feedback | None = None
        self.commit.on_click(lambda _button: self.submit())
        self.choice.observe(lambda _change: self._ready(), names="value")
        self._ready()

    def _ready(self) -> None:
        self.commit.disabled = self.choice.value is None or self.prediction is not None

    def submit(self) -> Feedback:
        """Lock the prediction, then reveal the data and the feedback."""
        if self.choice.value is None:
            raise ValueError("choose a prediction before committing")
        self.prediction = self.choice.value
        self.choice.disabled = True
        self._ready()
        self.feedback = self.check(self.prediction)
        mark = "✓" if self.feedback.correct else "✗"
        self.status.value = f"<p class='exinf-feedback'>{mark} {html.escape(self.feedback.message)}</p>"
        from IPython import get_ipython

        if get_ipython() is not None:
            with self.output:
                display(self.reveal_data())
        return self.feedback

    def widget(self) -> widgets.Widget:
        header = widgets.HTML(f"<p><b>Predict first:</b> {html.escape(self.question)}</p>")
        return widgets.VBox([header, self.choice, self.commit, self.status, self.output])

    def _ipython_display_(self) -> None:
        if self.variant == "instructor":
            display(render.markdown("**Prediction question:** {question}", question=self.question))
            display(self.reveal_data())
            answer = next((value for _, value in self.choice.options if self.check(value).correct), None)
            message = self.check(answer).message if answer else "see the data."
            display(render.markdown("**Answer:** {message}", message=message))
        else:
            display(self.widget())


class ClassifyLevels:
    """Place studies on the evidence ladder with dropdowns; *Check* explains every wrong answer."""

    def __init__(self, package, study_ids: list[str], variant: str = "student"):
        check_variant(variant)
        self.package, self.study_ids, self.variant = package, study_ids, variant
        studies = package.studies.set_index("study_id")
        options = [("choose…", None)] + [(f"{k}. {v}", k) for k, v in evidence.EVIDENCE_LEVELS.items()]
        self.choices = {
            s: widgets.Dropdown(
                description=studies.at[s, "short_cite"],
                options=options,
                value=None,
                style={"description_width": "170px"},
                layout=widgets.Layout(width="560px"),
            )
            for s in study_ids
        }
        self.check_button = widgets.Button(
            description="Check my ladder", button_style="primary", layout=widgets.Layout(width="200px")
        )
        self.result = widgets.HTML()
        self.feedback: dict[str, Feedback] = {}
        self.check_button.on_click(lambda _button: self.check())

    def check(self) -> dict[str, Feedback]:
        self.feedback = check_levels(self.package, {s: c.value for s, c in self.choices.items()})
        right = sum(f.correct for f in self.feedback.values())
        items = "".join(
            f"<li>{'✓' if f.correct else '✗'} {html.escape(f.message)}</li>" for f in self.feedback.values()
        )
        self.result.value = f"<p><b>{right} of {len(self.feedback)} right.</b></p><ul>{items}</ul>"
        return self.feedback

    def widget(self) -> widgets.Widget:
        return widgets.VBox([*self.choices.values(), self.check_button, self.result])

    def _ipython_display_(self) -> None:
        if self.variant == "instructor":
            answers = [
                explain_level(self.package.studies, self.package.designs, self.package.species, s)
                for s in self.study_ids
            ]
            items = [render.markdown("- {answer}", answer=a) for a in answers]
            display(render.markdown("**Answers.**\n\n{items}", items=render.SafeMarkdown("\n".join(items))))
        else:
            display(self.widget())


class ShortAnswerBox:
    """A text box for one of :data:`SHORT_ANSWERS` with a *Check* button."""

    def __init__(self, question_id: str, variant: str = "student"):
        check_variant(variant)
        self.question_id, self.variant = question_id, variant
        self.text = widgets.Textarea(placeholder="Your answer…", layout=widgets.Layout(width="640px", height="90px"))
        self.check_button = widgets.Button(description="Check my answer", layout=widgets.Layout(width="200px"))
        self.result = widgets.HTML()
        self.feedback: Feedback | None = None
        self.check_button.on_click(lambda _button: self.check())

    def check(self) -> Feedback:
        self.feedback = check_short_answer(self.question_id, self.text.value)
        self.result.value = f"<p>{'✓' if self.feedback.correct else '✗'} {html.escape(self.feedback.message)}</p>"
        return self.feedback

    def widget(self) -> widgets.Widget:
        question = widgets.HTML(f"<p><b>Question:</b> {html.escape(SHORT_ANSWERS[self.question_id].question)}</p>")
        return widgets.VBox([question, self.text, self.check_button, self.result])

    def _ipython_display_(self) -> None:
        if self.variant == "instructor":
            question = SHORT_ANSWERS[self.question_id]
            points = render.SafeMarkdown("\n".join(render.markdown("- {c}", c=c) for c in question.concepts))
            display(
                render.markdown(
                    "**Question:** {question}\n\n**A good answer mentions:**\n{points}",
                    question=question.question,
                    points=points,
                )
            )
        else:
            display(self.widget())


class GradeClaims:
    """Students pick a verdict for each claim; *Compare* shows the curated verdicts and why."""

    def __init__(self, package, claim_ids: list[str], variant: str = "student"):
        check_variant(variant)
        self.package, self.claim_ids, self.variant = package, claim_ids, variant
        claims = package.claims.set_index("claim_id")
        verdicts = next(f for f in package.schema("claims")["fields"] if f["name"] == "verdict")["constraints"]["enum"]
        options = [("choose…", None)] + [(v.replace("_", " "), v) for v in verdicts]
        self.choices = {
            c: widgets.Dropdown(options=options, value=None, layout=widgets.Layout(width="200px")) for c in claim_ids
        }
        self.rows = [
            widgets.HBox(
                [
                    widgets.HTML(f"<p style='width:520px'><b>{c}</b>: {html.escape(claims.at[c, 'claim'])}</p>"),
                    self.choices[c],
                ]
            )
            for c in claim_ids
        ]
        self.compare_button = widgets.Button(
            description="Compare with the curators", button_style="primary", layout=widgets.Layout(width="260px")
        )
        self.result = widgets.HTML()
        self.feedback: dict[str, Feedback] = {}
        self.compare_button.on_click(lambda _button: self.compare())

    def compare(self) -> dict[str, Feedback]:
        self.feedback = {c: check_verdict(self.package, c, w.value) for c, w in self.choices.items()}
        same = sum(f.correct for f in self.feedback.values())
        items = "".join(
            f"<li><b>{c}</b> {'✓' if f.correct else '✗'} {html.escape(f.message)}</li>"
            for c, f in self.feedback.items()
        )
        self.result.value = (
            f"<p><b>You agreed with the curators on {same} of {len(self.feedback)}.</b></p><ul>{items}</ul>"
        )
        return self.feedback

    def widget(self) -> widgets.Widget:
        return widgets.VBox([*self.rows, self.compare_button, self.result])

    def _ipython_display_(self) -> None:
        if self.variant == "instructor":
            claims = self.package.claims.set_index("claim_id")
            lines = [
                render.markdown(
                    "- **{claim_id}** ({verdict}): {claim} *Why:* {rationale}",
                    claim_id=c,
                    verdict=claims.at[c, "verdict"].replace("_", " "),
                    claim=claims.at[c, "claim"],
                    rationale=claims.at[c, "rationale"],
                )
                for c in self.claim_ids
            ]
            display(render.markdown("**Curated verdicts.**\n\n{lines}", lines=render.SafeMarkdown("\n".join(lines))))
        else:
            display(self.widget())


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
    """The notebook to hand out: solution and teacher-note cells removed, every output cleared."""
    copy = nbformat.from_dict(notebook)
    copy.cells = [c for c in copy.cells if not set(c.metadata.get("tags", [])) & set(STUDENT_ONLY_REMOVED_TAGS)]
    for cell in copy.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
    copy.metadata.pop("papermill", None)
    copy.metadata.pop("widgets", None)
    return copy
