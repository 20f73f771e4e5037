"""Teaching kit: checkers with right and wrong answers, widgets, glossary, and the two builds."""

from __future__ import annotations

import json

import nbformat
import pandas as pd
import papermill as pm
import pytest

from helpers import evidence, paths, reports, teaching

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


@pytest.mark.parametrize(
    ("question", "answer", "correct", "words"),
    [
        (
            "il6_two_faces",
            "The rise is brief, during exercise; at rest after weeks of training it is lower, and "
            "muscle IL-6 triggers IL-10 and IL-1ra.",
            True,
            "covers the key points",
        ),
        ("il6_two_faces", "Because training takes weeks.", False, "does not yet mention"),
        ("il6_two_faces", "IL-6 is bad, so it should always be low.", False, "not simply 'bad'"),
        ("mouse_to_athlete", "It was done in mice and may not translate to human athletes.", True, "key points"),
        ("mouse_to_athlete", "The study had only 12 people.", False, "the participants were mice"),
        ("press_release_number", "The 5 % is from a press release; plasma TNF did not change.", True, "key points"),
        ("press_release_number", "It comes from a meta-analysis.", False, "not a meta-analysis"),
        ("press_release_number", "   ", False, "Write an answer first"),
    ],
)
def test_short_answer_checker(question, answer, correct, words):
    feedback = teaching.check_short_answer(question, answer)
    assert feedback.correct is correct and words in feedback.message


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
def test_prediction_locks_before_the_reveal(view):
    widget = teaching.PredictThenReveal(
        "IL-6 after one workout?",
        [("up", "increase"), ("down", "decrease")],
        reveal=lambda: "data",
        check=lambda a: teaching.check_direction(
            view, a, intervention_category="exercise", timeframe="acute", outcome_code="il6"
        ),
    )
    assert widget.commit.disabled, "nothing to commit before a choice"
    with pytest.raises(ValueError, match="choose a prediction"):
        widget.submit()
    widget.choice.value = "decrease"
    assert not widget.commit.disabled
    widget.commit.click()
    assert widget.prediction == "decrease" and widget.choice.disabled and widget.commit.disabled
    assert not widget.feedback.correct and "✗" in widget.status.value
    with pytest.raises(ValueError):
        teaching.PredictThenReveal("q", [("a", "a")], reveal=lambda: None, check=lambda a: None, variant="teacher")


def test_classification_grading_and_short_answer_widgets(package):
    ladder = teaching.ClassifyLevels(package, ["langston2023", "fedewa2017"])
    ladder.choices["langston2023"].value = 6
    ladder.choices["fedewa2017"].value = 2
    ladder.check_button.click()
    assert ladder.feedback["langston2023"].correct and not ladder.feedback["fedewa2017"].correct
    assert "1 of 2 right" in ladder.result.value
    grades = teaching.GradeClaims(package, ["zone2_04"])
    grades.choices["zone2_04"].value = "not_supported"
    grades.compare_button.click()
    assert grades.feedback["zone2_04"].correct and "1 of 1" in grades.result.value
    box = teaching.ShortAnswerBox("mouse_to_athlete")
    box.text.value = "It was in mice, not humans."
    box.check_button.click()
    assert box.feedback.correct and "✓" in box.result.value


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


@pytest.mark.notebook
@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_lesson_runs_in_both_variants_and_only_the_instructor_sees_solutions(lesson, tmp_path):
    source = nbformat.read(lesson, as_version=4)
    solutions = solution_texts(source)

    student = teaching.student_copy(source)
    student_file = tmp_path / "student.ipynb"
    nbformat.write(student, student_file)
    raw = student_file.read_text(encoding="utf-8")
    assert all(text[:60] not in raw for text in solutions), "the student copy holds no solution text"
    assert all(not c.get("outputs") for c in json.loads(raw)["cells"] if c["cell_type"] == "code")

    pm.execute_notebook(
        student_file,
        tmp_path / "student-run.ipynb",
        cwd=lesson.parent,
        kernel_name="python3",
        progress_bar=False,
        parameters={"renderer": "svg"},
    )
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
    for text in solutions:
        assert text.split("\n")[0][:60] in markdown_out, "the instructor run shows every solution and note"


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
