"""Teaching kit: checkers with right and wrong answers, widgets, glossary, and the two builds."""

from __future__ import annotations

import html
import json

import nbformat
import pandas as pd
import papermill as pm
import pytest

from helpers import evidence, paths, reports, teaching
from helpers import lesson_questions as questions

LESSONS = sorted(paths.notebooks_dir().glob("[5-9]0_lesson_*.ipynb"))
DATA = paths.data_dir()


@pytest.fixture(scope="module")
def view(package):
    return evidence.build_evidence_view(package)


def csv(name: str) -> pd.DataFrame:
    return pd.read_csv(DATA / f"{name}.csv", dtype=str, keep_default_na=False)


# ------------------------------------------------------------------------------------ checkers
def test_direction_checker_right_and_wrong(view):
    findings = csv("findings")
    acute_il6 = findings[
        (findings["outcome_code"] == "il6")
        & (findings["timeframe"] == "acute")
        & findings["intervention_code"].isin(["acute_exercise"])
    ]
    ups = int((acute_il6["direction"] == "increase").sum())
    assert ups > len(acute_il6) / 2  # the data the question rests on: mostly up (exceptions: 48 h later, resting leg)
    right = teaching.check_direction(
        view, "increase", intervention_category="exercise", timeframe="acute", outcome_code="il6"
    )
    wrong = teaching.check_direction(
        view, "decrease", intervention_category="exercise", timeframe="acute", outcome_code="il6"
    )
    assert right.correct and not wrong.correct
    assert f"goes up in {ups} of {len(acute_il6)} findings" in wrong.message
    assert "you predicted it goes down" in wrong.message and "Starkie et al. 2003" in wrong.message


def test_direction_checker_names_the_exceptions(view):
    feedback = teaching.check_direction(
        view, "decrease", intervention_category="exercise", timeframe=["chronic", "varied"], outcome_code="crp"
    )
    assert feedback.correct
    assert "exceptions:" in feedback.message and "Kelley & Kelley 2006 (no change)" in feedback.message


def test_direction_checker_reports_ties_as_mixed():
    toy = pd.DataFrame(
        {
            "finding_id": ["1", "2"],
            "study_id": ["a", "b"],
            "short_cite": ["A", "B"],
            "direction": ["increase", "decrease"],
            "outcome_code": ["x", "x"],
        }
    )
    assert teaching.observed_direction(toy, outcome_code="x") == "mixed"
    assert teaching.check_direction(toy, "mixed", outcome_code="x").correct
    with pytest.raises(ValueError, match="no findings match"):
        teaching.observed_direction(toy, outcome_code="y")


@pytest.mark.parametrize(
    ("study_id", "right", "wrong", "why"),
    [
        ("langston2023", 6, 2, "A strong design does not lift animal or cell work"),
        ("chen2021", 7, 4, "A strong design does not lift animal or cell work"),
        ("andonian2019", 5, 2, "Reviews without a systematic method, abstracts and press releases sit at level 5"),
        ("dimitrov2017", 4, 2, "That rates it as stronger evidence than it is"),
        ("fedewa2017", 1, 3, "That rates it as weaker evidence than it is"),
    ],
)
def test_level_checker_explains_wrong_answers(package, study_id, right, wrong, why):
    assert teaching.check_levels(package, {study_id: right})[study_id].correct
    feedback = teaching.check_levels(package, {study_id: wrong})[study_id]
    assert not feedback.correct and why in feedback.message
    assert f"is level {right}" in feedback.message
    assert not teaching.check_levels(package, {study_id: None})[study_id].correct


def test_verdict_checker_uses_the_curated_verdicts(package):
    claims = csv("claims").set_index("claim_id")
    for claim_id in ["peloton_13", "zone2_04", "peloton_05"]:
        curated = claims.at[claim_id, "verdict"]
        assert teaching.check_verdict(package, claim_id, curated).correct
        wrong = "supported" if curated != "supported" else "not_supported"
        feedback = teaching.check_verdict(package, claim_id, wrong)
        assert not feedback.correct and claims.at[claim_id, "rationale"] in feedback.message
    assert "more generous" in teaching.check_verdict(package, "zone2_04", "supported").message
    assert "stricter" in teaching.check_verdict(package, "peloton_08", "not_supported").message
    with pytest.raises(KeyError):
        teaching.check_verdict(package, "zone9_99", "supported")


def test_level_and_share_questions_are_answered_from_the_data(package, view):
    hydrogen = csv("findings").merge(csv("interventions"), on="intervention_code")
    hydrogen = hydrogen[hydrogen["intervention_category"] == "hydrogen"]
    levels = view.set_index("finding_id").loc[hydrogen["finding_id"], "evidence_level"]
    expected = int(levels.value_counts().idxmax())
    assert teaching.check_most_common_level(view, expected, intervention_category="hydrogen").correct
    assert not teaching.check_most_common_level(
        view, 1 if expected != 1 else 2, intervention_category="hydrogen"
    ).correct
    share = (csv("claims")["verdict"] == "supported").mean()
    expected_bin = next(k for k, (lo, hi) in teaching.SUPPORT_BINS.items() if lo <= share < hi)
    assert teaching.check_supported_share(package, expected_bin).correct
    assert not teaching.check_supported_share(package, "most" if expected_bin != "most" else "few").correct


def test_glossary_comes_from_the_outcome_vocabulary(package):
    table = teaching.glossary(package)
    used = csv("outcomes")[csv("outcomes")["outcome_code"].isin(csv("findings")["outcome_code"])]
    assert set(used["label"]) <= set(table["term"])
    assert (table["kind"] == "evidence level").sum() == 7
    il6 = table.set_index("term").loc["IL-6", "meaning"]
    assert "depends on timing and setting" in il6


# ------------------------------------------------------------------------------------- widgets
def widget_states(root) -> str:
    """Everything the widget models of ``root`` would send to a browser (JupyterLab or Voilà), as one string."""
    seen, stack, parts = set(), [root], []
    while stack:
        widget = stack.pop()
        if widget.model_id in seen:
            continue
        seen.add(widget.model_id)
        parts.append(json.dumps(widget.get_state(), default=str, ensure_ascii=False))
        stack.extend(getattr(widget, "children", ()))
    return "\n".join(parts)


@pytest.fixture(scope="module")
def cell(package, view):
    return questions.sof_cell(package, view, "mind_body", "crp")


@pytest.fixture(scope="module")
def sof_all(package, view):
    return evidence.summary_of_findings(view, package.certainty_overrides)


def choose(question, key) -> teaching.Feedback:
    question.choice.value = next(i for i, c in enumerate(question.choices) if c.key == key)
    return question.submit()


def test_prediction_locks_before_the_reveal(view):
    widget = questions.il6_during_workout(view)
    assert widget.commit.disabled, "nothing to commit before a choice"
    with pytest.raises(ValueError, match="answer the question"):
        widget.submit()
    before = widget_states(widget.widget())
    assert "Right." not in before and "16 of 19" not in before and "anti-inflammatory" not in before
    widget.choice.value = 1  # "It goes down"
    assert not widget.commit.disabled
    widget.commit.click()
    assert widget.prediction == "decrease" and widget.choice.disabled and widget.commit.disabled
    assert widget.feedback.correct is False and "✗" in widget.status.value
    assert "anti-inflammatory" in widget.status.value, "the misconception of the chosen option is explained"
    assert widget.submit() is widget.feedback, "a committed answer cannot be changed"
    with pytest.raises(ValueError):
        teaching.PredictThenReveal("q", [("a", "a")], reveal=lambda: None, check=lambda a: None, variant="teacher")


MICE = "Mice are fine models, so it applies to humans and athletes directly"


@pytest.mark.parametrize(
    ("label", "correct", "words"),
    [
        ("It was done in mice: nothing was measured in people, let alone athletes", True, "is level 6"),
        (MICE, False, "still level 6"),  # the gaming answer of the issue, now a named misconception
        ("The sample was too small to trust", False, "the participants were mice"),
        ("It is too old to be relevant", False, "It was published in 2023"),
    ],
)
def test_multiple_choice_grades_misconceptions_with_their_own_feedback(package, label, correct, words):
    question = questions.mouse_to_athlete(package)
    assert MICE not in [c.misconception for c in question.choices]
    assert "still level 6" not in widget_states(question.widget()), "no feedback in the widget before the commit"
    question.choice.value = next(i for i, c in enumerate(question.choices) if c.label == label)
    feedback = question.submit()
    assert feedback.correct is correct and words in feedback.message


IL6_MODEL_START = "The rise during exercise is short-lived"


@pytest.mark.parametrize(
    "answer",
    [
        "The IL-6 rise is not short, it is not at rest and muscle does not make it",  # negates every point
        MICE,  # off topic
        "short rest muscle short rest muscle",  # keywords only
        "The rise is brief and comes from working muscle; the lower level is at rest after weeks of training.",
        "IL-6 is bad, so it should always be low.",
    ],
)
def test_free_text_is_never_graded_correct(answer):
    question = questions.il6_two_faces()
    assert IL6_MODEL_START not in widget_states(question.widget()), "the model answer stays in the kernel"
    question.text.value = answer
    feedback = question.submit()
    assert feedback.correct is None, "free text is self-assessed, never marked right or wrong by the computer"
    assert "✓" not in question.status.value and "Not marked by the computer" in feedback.message
    assert IL6_MODEL_START in question.status.value and question.text.disabled
    assert len(question.ticks) == len(question.rubric) and not any(question.self_assessment.values())


def test_free_text_needs_an_answer_before_the_model_answer_shows():
    question = questions.il6_two_faces()
    for gaming in ["", "short rest muscle", "   muscle   "]:
        question.text.value = gaming
        assert question.commit.disabled
        with pytest.raises(ValueError):
            question.submit()
    assert question.status.value == "" and not question.committed


@pytest.mark.parametrize(
    ("typed", "correct"),
    [("-0.58", True), ("−0,55", True), ("-0.5", True), ("-0.3", False), ("0.58", False)],
)
def test_numeric_answers_have_a_tolerance(view, cell, typed, correct):
    assert morgan_effect() == (-0.58, -1.12, -0.04)  # the value the question rests on, read from the CSV
    question = questions.read_estimate(view, cell)
    assert "-0.58" not in widget_states(question.widget())
    question.text.value = typed
    feedback = question.submit()
    assert feedback.correct is correct and "the data say -0.58" in feedback.message


@pytest.mark.parametrize("gaming", ["-0.58 or -0.3", "about -0.6", "lots", "", "-0.5-0.6"])
def test_numeric_refuses_anything_but_one_number(view, cell, gaming):
    question = questions.read_estimate(view, cell)
    question.text.value = gaming
    assert question.commit.disabled and not question.committed


def test_ordering_right_wrong_and_gaming(package, view):
    levels = {s: csv_level(s) for s in questions.ORDER_STUDIES}
    right_order = sorted(questions.ORDER_STUDIES, key=levels.get)
    keys = list(questions.ORDER_STUDIES)
    question = questions.ladder_ordering(package, view)
    question.slots[0].value = question.slots[1].value = 0  # the same study twice
    assert question.commit.disabled
    for slot, study in zip(question.slots, right_order, strict=True):
        slot.value = keys.index(study)
    assert question.submit().correct and all(ok for ok, _ in question.feedback.details)
    wrong = questions.ladder_ordering(package, view)
    for slot, study in zip(wrong.slots, reversed(right_order), strict=True):
        slot.value = keys.index(study)
    feedback = wrong.submit()
    assert feedback.correct is False and "out of order" in feedback.message
    assert "Pedersen &amp; Febbraio 2008 is level 5" in wrong.status.value


def csv_level(study_id: str) -> int:
    """A study's evidence level derived here from the CSVs: level 5 designs stay 5, animals 6, cells 7."""
    study = csv("studies").set_index("study_id").loc[study_id]
    species_group = csv("species").set_index("species_code").at[study["species_code"], "species_group"]
    design_level = csv("designs").set_index("design_code").at[study["design_code"], "human_evidence_level"]
    if design_level == "5":
        return 5
    return {"animal": 6, "cells": 7}.get(species_group) or int(design_level)


def test_matching_uses_study_cards_from_the_data_and_grades_each_item(package, view):
    question = questions.ladder_matching(package, view)
    studies = csv("studies").set_index("study_id")
    state = widget_states(question.widget())
    for study_id in questions.LADDER_STUDIES:
        population = studies.at[study_id, "population"] or teaching.UNKNOWN
        assert html.escape(population[:40], quote=False) in state or population[:40] in state, study_id
    assert "is level" not in state, "no level explanation before the commit"
    for study_id in questions.LADDER_STUDIES[:-1]:
        question.select(study_id, csv_level(study_id))
    assert question.commit.disabled, "every study needs a level before the commit"
    question.select("mattusch2000", 2 if csv_level("mattusch2000") != 2 else 3)
    feedback = question.submit()
    assert feedback.correct is False and feedback.message == f"{len(questions.LADDER_STUDIES) - 1} of 7 right."
    assert [ok for ok, _ in feedback.details].count(False) == 1


def test_study_cards_come_from_the_data_and_say_unknown(view):
    cards = teaching.study_cards(view, ["pedersen2008", "morgan2014", "langston2023"]).set_index("study_id")
    studies = csv("studies").set_index("study_id")
    assert cards.at["morgan2014", "participants"].startswith(studies.at["morgan2014", "n_participants"])
    assert f"in {studies.at['morgan2014', 'n_studies_pooled']} pooled studies" in cards.at["morgan2014", "participants"]
    assert studies.at["pedersen2008", "population"] == "" and cards.at["pedersen2008", "population"] == "not reported"
    assert "level" not in " ".join(cards.columns) and "verdict" not in " ".join(cards.columns)
    with pytest.raises(ValueError, match="no findings"):
        teaching.study_cards(view, ["nosuchstudy"])


def test_claim_grading_hides_curated_verdicts_until_the_commit(package, view):
    claims = csv("claims").set_index("claim_id")
    question = questions.grade_claims(package, view)
    state = widget_states(question.widget())
    for claim_id in questions.GRADED_CLAIMS:
        assert claims.at[claim_id, "rationale"][:50] not in html.unescape(state), claim_id
    assert "Curated verdict" not in state and "supports" not in state
    for claim_id in questions.GRADED_CLAIMS:
        question.select(claim_id, claims.at[claim_id, "verdict"])
    feedback = question.submit()
    assert feedback.correct and feedback.message == "5 of 5 right."
    assert claims.at["zone2_04", "rationale"][:50] in html.unescape(question.status.value)


def test_explorer_with_the_verdicts_opens_only_after_the_commit(package, view):
    grading = questions.grade_claims(package, view)
    locked = questions.claims_explorer_after(package, view, grading)
    assert not locked.opened and "opens once" in locked.notice.value
    for claim_id in questions.GRADED_CLAIMS:
        grading.select(claim_id, "supported")
    grading.submit()
    assert locked.opened and locked.notice.value == ""


def morgan_effect() -> tuple[float, float, float]:
    """Morgan 2014's whole-review SMD and CI in the standard sign (the CSV stores the source's reversed sign)."""
    row = csv("findings").set_index("finding_id").loc["morgan2014_f01"]
    sign = -1.0 if row["effect_sign"] == "reversed" else 1.0
    low, high = sorted([sign * float(row["ci_low"]), sign * float(row["ci_high"])])
    return sign * float(row["effect_value"]), low, high


def test_lesson_four_questions_read_the_summary_of_findings(package, view, cell, sof_all):
    morgan = csv("findings").set_index("finding_id").loc["morgan2014_f01"]
    _, ci_low, ci_high = morgan_effect()
    assert cell["certainty"] in ("high", "moderate", "low", "very_low")
    certainty = questions.certainty(cell)
    assert "Starts" not in widget_states(certainty.widget())
    wrong = "high" if cell["certainty"] != "high" else "low"
    feedback = choose(certainty, wrong)
    assert feedback.correct is False and "top of the ladder" in feedback.message and "Starts" in feedback.message
    assert choose(questions.certainty(cell), cell["certainty"]).correct
    side = questions.favours_side(cell)
    assert choose(side, "left").correct  # CRP: a decrease is favourable (outcomes.csv)
    assert csv("outcomes").set_index("outcome_code").at["crp", "favourable_direction"] == "decrease"
    crosses = ci_low <= 0 <= ci_high
    assert choose(questions.ci_includes_zero(cell), "yes" if crosses else "no").correct
    spread = questions.next_programme(view, sof_all, cell)
    feedback = choose(spread, "within")
    assert feedback.correct is False and f"I² = {float(morgan['i2_pct']):.0f} %" in feedback.message
    headline = questions.headline(view, cell)
    headline.text.value = "Mind-body practice lowers CRP in everyone, for sure."
    assert headline.submit().correct is None and cell["statement"] in headline.status.value


def test_il6_hook_comes_from_curated_fold_changes(view):
    findings = csv("findings")
    folds = findings[(findings["outcome_code"] == "il6") & (findings["effect_measure"] == "fold_change")]
    largest = folds.loc[folds["effect_value"].astype(float).idxmax()]
    question = questions.il6_fold(view)
    feedback = choose(question, "x1_5")
    assert feedback.correct is False
    assert f"{float(largest['effect_value']):g}-fold" in feedback.message
    assert "kept in the data as a note, not as a measured value" in feedback.message
    assert choose(questions.il6_fold(view), "x100").correct is (float(largest["effect_value"]) >= 30)


# -------------------------------------------------------------------------------------- builds
def solution_texts(notebook: nbformat.NotebookNode) -> list[str]:
    """The solution and teaching-note texts of a lesson source (the string inside each tagged cell)."""
    texts = []
    for cell in notebook.cells:
        if set(cell.metadata.get("tags", [])) & {"solution", "teacher-note"}:
            texts.append(cell.source.split('"""')[1].strip())
    return texts


def test_lessons_follow_the_skeleton():
    assert [p.name for p in LESSONS] == [
        "50_lesson_acute_vs_chronic.ipynb",
        "60_lesson_evidence_ladder.ipynb",
        "70_lesson_fact_check.ipynb",
        "80_lesson_how_sure.ipynb",
    ]
    for path in LESSONS:
        nb = nbformat.read(path, as_version=4)
        text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
        for part in [
            "# Lesson",
            "**Learning objectives.**",
            "**Prerequisites.**",
            "**Time needed.**",
            "## Summary",
            "## Sources",
            "## Glossary",
        ]:
            assert part in text, (path.name, part)
        assert reports.parameters_cell(path)["variant"] == ("str", "student"), "the safe default is the student view"
        assert len(solution_texts(nb)) >= 2, path.name
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert all(not c.outputs and c.execution_count is None for c in code), "committed without outputs"
        assert code[0].metadata.get("tags") == ["parameters"]
        assert any("exercise" in c.metadata.get("tags", []) for c in nb.cells)


def answer_texts(package, view) -> list[str]:
    """Texts that must not reach a student before the commit: model answers and the graded claims' rationales."""
    cell = questions.sof_cell(package, view, "mind_body", "crp")
    texts = [
        questions.il6_two_faces().model_answer(),
        questions.rewrite_mouse_claim().model_answer(),
        questions.headline(view, cell).model_answer(),
    ]
    claims = csv("claims").set_index("claim_id")
    return texts + [claims.at[c, "rationale"] for c in questions.GRADED_CLAIMS]


def test_student_copies_hold_no_answers_and_hide_the_code(package, view, tmp_path):
    forbidden = answer_texts(package, view)
    for lesson in LESSONS:
        source = nbformat.read(lesson, as_version=4)
        student_file = tmp_path / lesson.name
        nbformat.write(teaching.student_copy(source), student_file)
        raw = student_file.read_text(encoding="utf-8")
        for text in solution_texts(source) + forbidden:
            assert text[:50] not in raw, (lesson.name, text[:50])
        cells = json.loads(raw)["cells"]
        code = [c for c in cells if c["cell_type"] == "code"]
        assert code and all(not c["outputs"] and c["metadata"]["jupyter"]["source_hidden"] for c in code)
        assert all("hide-input" in c["metadata"]["tags"] for c in code)
        assert not [c for c in cells if {"solution", "teacher-note"} & set(c["metadata"].get("tags", []))]


@pytest.mark.notebook
@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_lesson_runs_in_both_variants_and_only_the_instructor_sees_solutions(package, view, lesson, tmp_path):
    source = nbformat.read(lesson, as_version=4)
    student_file = tmp_path / "student.ipynb"
    nbformat.write(teaching.student_copy(source), student_file)
    pm.execute_notebook(
        student_file,
        tmp_path / "student-run.ipynb",
        cwd=lesson.parent,
        kernel_name="python3",
        progress_bar=False,
        parameters={"renderer": "svg"},
    )
    ran = (tmp_path / "student-run.ipynb").read_text(encoding="utf-8")
    for text in solution_texts(source) + answer_texts(package, view):
        assert json.dumps(text[:50])[1:-1] not in ran, "no answer in the executed student notebook (widget state)"
    pm.execute_notebook(
        lesson,
        tmp_path / "instructor.ipynb",
        cwd=lesson.parent,
        kernel_name="python3",
        progress_bar=False,
        parameters={"variant": "instructor", "renderer": "svg"},
    )
    shown = nbformat.read(tmp_path / "instructor.ipynb", as_version=4)
    markdown_out = "\n".join(
        o["data"]["text/markdown"]
        for c in shown.cells
        if c.cell_type == "code"
        for o in c.outputs
        if "text/markdown" in o.get("data", {})
    )
    for text in solution_texts(source):
        assert text.split("\n")[0][:60] in markdown_out, "the instructor run shows every solution and note"
    assert "**Answer" in markdown_out, "the instructor run shows the answer keys"


@pytest.mark.notebook
def test_teaching_build_writes_instructor_and_student_sets_to_the_site(tmp_path):
    folder = tmp_path / "plan"
    folder.mkdir()
    lesson = LESSONS[1]
    for suffix in (".ipynb", ".yaml"):
        (folder / lesson.with_suffix(suffix).name).write_bytes(lesson.with_suffix(suffix).read_bytes())
    (folder / "reports.yaml").write_text(
        f"jobs:\n  - name: lesson-ladder\n    notebook: {lesson.name}\n    parameters: {{variant: instructor}}\n"
        "    student_copy: true\n",
        encoding="utf-8",
    )
    result = reports.build_site(folder / "reports.yaml", tmp_path / "out", progress=False)
    site = tmp_path / "out" / "site"
    assert result.published
    assert result.results[0].outputs == [
        "lesson-ladder.html",
        "notebooks/lesson-ladder.ipynb",
        "teaching/lesson-ladder-student.ipynb",
    ]
    solutions = solution_texts(nbformat.read(lesson, as_version=4))
    page = (site / "lesson-ladder.html").read_text(encoding="utf-8")
    handout = (site / "teaching" / "lesson-ladder-student.ipynb").read_text(encoding="utf-8")
    for text in solutions:
        first_words = text.split(" (")[0][:50]
        assert first_words in page and first_words not in handout
    assert "student notebook (no solutions)" in (site / "index.html").read_text(encoding="utf-8")
