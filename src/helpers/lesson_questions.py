"""The questions of the four lessons: options, misconceptions, model answers and rubrics, graded from the data.

They live here, not in the notebooks, so that a student copy holds no answer (not even in a hidden code cell)
and every question is tested like other code. Each function returns a :mod:`helpers.teaching` widget; the lesson
notebooks only call them.
"""

from __future__ import annotations

import re

import pandas as pd

from helpers import charts, evidence, explorer, notebook, teaching
from helpers.teaching import Choice, Feedback

DIRECTIONS = [("It goes up", "increase"), ("It goes down", "decrease"), ("It does not change", "no_change")]


# ------------------------------------------------------------------------------------ lesson 1
def il6_during_workout(view: pd.DataFrame, variant: str = "student") -> teaching.PredictThenReveal:
    rows = dict(intervention_category="exercise", timeframe="acute", outcome_code="il6")
    return teaching.PredictThenReveal(
        "During and right after a single workout, what happens to IL-6 in the blood?",
        [
            Choice("It goes up", "increase"),
            Choice(
                "It goes down",
                "decrease",
                "A common expectation: exercise is 'anti-inflammatory', so it should calm inflammation at once. "
                "In the blood, during a workout, the opposite happens.",
            ),
            Choice(
                "It does not change",
                "no_change",
                "IL-6 is not a slow marker like resting CRP: it moves within minutes of hard muscle work.",
            ),
        ],
        check=lambda answer: teaching.check_direction(view, answer, **rows),
        reveal=lambda: notebook.show_table(
            explorer.findings_table(
                evidence.filter_findings(view, intervention_categories="exercise", timeframes="acute", outcomes="il6")
            )
        ),
        variant=variant,
    )


FOLD_BINS = {"lower": (0.0, 1.0), "x1_5": (1.0, 3.0), "x10": (3.0, 30.0), "x100": (30.0, float("inf"))}


def il6_fold_changes(view: pd.DataFrame) -> pd.DataFrame:
    """The curated fold changes of plasma IL-6 during or right after exercise (largest first)."""
    rows = view[
        (view["intervention_category"] == "exercise")
        & (view["outcome_code"] == "il6")
        & (view["effect_measure"] == "fold_change")
    ]
    if rows.empty:
        raise ValueError("no curated IL-6 fold change in the data: the hook question needs one")
    return rows.assign(fold=rows["effect_value"].astype(float)).sort_values("fold", ascending=False)


def review_fold_statements(view: pd.DataFrame) -> list[tuple[str, str]]:
    """Fold changes that the data hold only as a statement in a note (no stored number): (citation, statement)."""
    rows = view[
        (view["intervention_category"] == "exercise")
        & (view["outcome_code"] == "il6")
        & (view["effect_measure"] == "none")
    ]
    found = []
    for cite, note, level in rows[["short_cite", "note"]].assign(level=rows["evidence_level"]).itertuples(index=False):
        match = re.search(r"up to \d+-fold", str(note))
        if match:
            found.append((f"{cite} (level {level})", match.group(0)))
    return found


def check_il6_fold(view: pd.DataFrame, answer: str) -> Feedback:
    folds = il6_fold_changes(view)
    top = folds.iloc[0]
    right = next(k for k, (low, high) in FOLD_BINS.items() if low <= top["fold"] < high)
    measured = "; ".join(
        f"{r.short_cite}: {r.fold:g}-fold ({r.intervention_detail}; {r.sample_matrix}; n = {r.n_analysed})"
        for r in folds.itertuples()
    )
    text = f"Measured fold changes of IL-6 in the data: {measured}."
    statements = review_fold_statements(view)
    if statements:
        text += " The popular 'up to 100-fold' figure is a statement of " + "; ".join(
            f"{cite} ('{words}'), kept in the data as a note, not as a measured value" for cite, words in statements
        )
        text += "."
    else:
        text += " No curated number in the data supports the popular 'up to 100-fold' figure."
    return teaching.right_or_not(answer == right, text)


#: The marathon study of the hook question (its card is shown with the question).
MARATHON_STUDY = "ostrowski1999"


def il6_fold(view: pd.DataFrame, variant: str = "student") -> teaching.MultipleChoice:
    return teaching.MultipleChoice(
        "Right after a marathon, how many times higher than before the race was IL-6 in the runners' plasma?",
        [
            Choice(
                "Lower than before the race",
                "lower",
                "Training studies report lower resting markers after weeks; right after a race it is the opposite.",
            ),
            Choice(
                "About 1.5 times (a 50 % rise)",
                "x1_5",
                "That is the size of change seen for resting CRP or TNF; IL-6 from working muscle rises far more.",
            ),
            Choice("About 10 times", "x10", "Close to a 5-hour one-leg exercise study, but a marathon is harder."),
            Choice("About 100 times or more", "x100"),
        ],
        check=lambda answer: check_il6_fold(view, answer),
        variant=variant,
    )


def il6_two_faces(variant: str = "student") -> teaching.FreeText:
    return teaching.FreeText(
        "IL-6 rises during a workout, yet trained people tend to have lower resting IL-6. How can both be true?",
        model_answer=lambda: (
            "The rise during exercise is short-lived (hours) and comes from working muscle; it is followed by "
            "anti-inflammatory signals (IL-1ra, IL-10). The lower level is measured at rest, in people who have "
            "trained for weeks or months, partly through lower body fat. Timing decides which one you see."
        ),
        rubric=[
            "says the exercise rise is short-lived (acute: minutes to hours)",
            "says the lower level is measured at rest, after weeks or months of training (chronic)",
            "says the rise comes from working muscle and is followed by anti-inflammatory signals",
            "does not call IL-6 simply 'bad' or 'good'",
        ],
        variant=variant,
    )


def crp_after_training(view: pd.DataFrame, variant: str = "student") -> teaching.PredictThenReveal:
    return teaching.PredictThenReveal(
        "After weeks of regular exercise training, what happens to resting CRP?",
        [
            Choice(
                "It goes up",
                "increase",
                "A single hard session can raise CRP for a day or two, but resting CRP after weeks of training is "
                "another question.",
            ),
            Choice("It goes down", "decrease"),
            Choice(
                "It does not change",
                "no_change",
                "Some trials found no change, so this is a fair guess; the question is what most of them found.",
            ),
        ],
        check=lambda answer: teaching.check_direction(
            view, answer, intervention_category="exercise", timeframe=["chronic", "varied"], outcome_code="crp"
        ),
        reveal=lambda: charts.build_forest_plot(
            evidence.filter_findings(view, intervention_categories="exercise", outcomes="crp")
        ),
        variant=variant,
    )


HIIT_RA_CRITERIA = {"intervention_code": "hiit", "outcome_code": ["il6", "tnf", "il10"]}


def hiit_studies(view: pd.DataFrame) -> list[str]:
    """The studies behind the HIIT-in-RA question (their cards are shown before the prediction)."""
    return list(dict.fromkeys(teaching.matching_findings(view, **HIIT_RA_CRITERIA)["study_id"]))


def hiit_in_ra(view: pd.DataFrame, variant: str = "student") -> teaching.PredictThenReveal:
    return teaching.PredictThenReveal(
        "After weeks of HIIT, what happened to IL-6, TNF-α and IL-10 in the blood of the people in these studies?",
        [
            Choice(
                "They went down",
                "decrease",
                "The news said HIIT 'reduces inflammation'; that rests on disease scores, not on these cytokines.",
            ),
            Choice("They went up", "increase", "Only right after a session; these were measured at rest."),
            Choice("They did not change", "no_change"),
        ],
        check=lambda answer: teaching.check_direction(view, answer, **HIIT_RA_CRITERIA),
        reveal=lambda: notebook.show_table(
            explorer.findings_table(
                evidence.filter_findings(view, interventions="hiit", outcomes=["il6", "tnf", "il10"])
            )
        ),
        variant=variant,
    )


def marker_overview(view: pd.DataFrame, markers: list[str]) -> list:
    """Every exercise finding for ``markers`` by timeframe: a count table and the evidence map."""
    exercise_markers = evidence.filter_findings(view, intervention_categories="exercise", outcomes=markers)
    cells = evidence.summarise_cells(exercise_markers, by=("timeframe", "outcome_code"))
    table = notebook.show_table(
        cells,
        {
            "timeframe": "Timeframe",
            "outcome_code": "Marker",
            "n_findings": "Findings",
            "n_decrease": "Down",
            "n_increase": "Up",
            "n_no_change": "No change",
            "studies": "Studies",
        },
    )
    return [table, charts.build_evidence_map(evidence.filter_findings(view, outcomes=markers))]


# ------------------------------------------------------------------------------------ lesson 2
LADDER_STUDIES = [
    "dimitrov2017",
    "langston2023",
    "chen2021",
    "fedewa2017",
    "javorac2019",
    "andonian2019",
    "mattusch2000",
]
ORDER_STUDIES = ["ostrowski1999", "pedersen2008", "morgan2014", "bilberg2024"]


def ladder_matching(package, view: pd.DataFrame, variant: str = "student") -> teaching.Matching:
    return teaching.classify_levels(package, view, LADDER_STUDIES, variant=variant)


def ladder_ordering(package, view: pd.DataFrame, variant: str = "student") -> teaching.Ordering:
    cards = teaching.study_cards(view, ORDER_STUDIES).set_index("study_id")
    studies = package.studies.set_index("study_id")
    return teaching.Ordering(
        "Order these four studies from the strongest to the weakest evidence (their cards are in the table above).",
        {s: f"{cards.at[s, 'short_cite']} ({cards.at[s, 'design']})" for s in ORDER_STUDIES},
        ranks=lambda: {s: int(studies.at[s, "evidence_level"]) for s in ORDER_STUDIES},
        explain=lambda s: teaching.explain_level(package.studies, package.designs, package.species, s),
        first_label="strongest",
        variant=variant,
    )


def hydrogen_level(view: pd.DataFrame, variant: str = "student") -> teaching.PredictThenReveal:
    return teaching.PredictThenReveal(
        "Most findings on molecular hydrogen in this data set come from which level?",
        [(f"Level {k}: {v}", k) for k, v in evidence.EVIDENCE_LEVELS.items()],
        check=lambda answer: teaching.check_most_common_level(view, answer, intervention_category="hydrogen"),
        reveal=lambda: charts.build_direction_plot(evidence.filter_findings(view, intervention_categories="hydrogen")),
        variant=variant,
    )


def check_mouse_to_athlete(package, answer: str) -> Feedback:
    study = package.studies.set_index("study_id").loc["langston2023"]
    why = teaching.explain_level(package.studies, package.designs, package.species, "langston2023")
    right = "not_people" if study["species_code"] != "human" else None
    return teaching.right_or_not(answer == right, why)


def mouse_to_athlete(package, variant: str = "student") -> teaching.MultipleChoice:
    study = package.studies.set_index("study_id").loc["langston2023"]
    n = study["n_participants"]
    size = "The data do not record its sample size" if pd.isna(n) else f"It studied {int(n)} animals"
    return teaching.MultipleChoice(
        "Langston 2023 found that regulatory T cells in muscle help mice benefit from training. Why is that weak "
        "evidence for advice to athletes?",
        [
            Choice(
                "The sample was too small to trust",
                "small",
                f"{size}; but size is not the main problem: whatever the number, the participants were mice.",
            ),
            Choice("It was done in mice: nothing was measured in people, let alone athletes", "not_people"),
            Choice(
                "Mice are fine models, so it applies to humans and athletes directly",
                "applies",
                "A careful mouse experiment is still level 6: mouse immunity and mouse training do not map directly "
                "onto people, so it needs testing in humans first.",
            ),
            Choice(
                "It is too old to be relevant",
                "old",
                f"It was published in {int(study['year'])}; age is not what weakens it.",
            ),
        ],
        check=lambda answer: check_mouse_to_athlete(package, answer),
        variant=variant,
    )


def rewrite_mouse_claim(variant: str = "student") -> teaching.FreeText:
    return teaching.FreeText(
        'Rewrite the popular sentence "muscle inflammation triggers T cells that help you tolerate exercise" so '
        "that it says only what Langston 2023 showed.",
        model_answer=lambda: (
            "In mice, regulatory T cells that gather in exercised muscle limited interferon-γ-driven damage, and "
            "mice without them gained less from training; whether the same happens in people is not yet known."
        ),
        rubric=[
            "says the study was in mice",
            "names regulatory T cells (which damp inflammation) rather than T cells in general",
            "does not claim the result for people or athletes",
            "keeps what was measured (muscle damage, training gains) rather than 'tolerating exercise'",
        ],
        variant=variant,
    )


# ------------------------------------------------------------------------------------ lesson 3
GRADED_CLAIMS = ["peloton_08", "peloton_13", "peloton_05", "zone2_04", "zone2_12"]


def supported_share(package, view: pd.DataFrame, variant: str = "student") -> teaching.PredictThenReveal:
    return teaching.PredictThenReveal(
        "Of all the claims in the two popular articles, how many does the evidence fully support?",
        [
            Choice(
                "Most of them",
                "most",
                "Popular articles cite studies, so they sound well supported; citing is not the same as matching "
                "what the studies found.",
            ),
            Choice("About a third", "about_a_third", "Closer, but still more generous than the evidence."),
            Choice("Only a few", "few"),
        ],
        check=lambda answer: teaching.check_supported_share(package, answer),
        reveal=lambda: charts.verdict_summary(charts.claims_table(package, view)),
        variant=variant,
    )


def grade_claims(package, view: pd.DataFrame, variant: str = "student") -> teaching.Matching:
    return teaching.grade_claims(package, view, GRADED_CLAIMS, variant=variant)


SOURCE_KEYS = {"press": "press release", "abstract": "abstract", "table": "table"}


def check_press_release_source(view: pd.DataFrame, answer: str) -> Feedback:
    rows = view[(view["study_id"] == "dimitrov2017")]
    press = rows[rows["source_location"].astype(str).str.contains("press release")]
    if press.empty:
        raise ValueError("no press-release finding of dimitrov2017 in the data")
    finding = press.iloc[0]
    right = "press"
    text = (
        f"The data keep it as a separate finding read in: {finding['source_location']} "
        f"(verification: {finding['verification_status']}). {finding['note']}"
    )
    return teaching.right_or_not(answer == right, text)


def press_release_source(view: pd.DataFrame, variant: str = "student") -> teaching.MultipleChoice:
    return teaching.MultipleChoice(
        "News stories about the 20-minute treadmill study (Dimitrov 2017) say TNF-producing immune cells fell by "
        "5 %. Where does that number come from?",
        [
            Choice(
                "The abstract of the paper",
                "abstract",
                "The abstract gives no percentage: it says the suppression had 'moderate to large effects'.",
            ),
            Choice(
                "A meta-analysis of several studies",
                "meta",
                "Dimitrov 2017 is a single before/after study, not a meta-analysis, and no review gives that figure.",
            ),
            Choice("A quote in the press release and news coverage", "press"),
            Choice(
                "A results table of the paper",
                "table",
                "Tables are a good place to look for numbers, but this one was not read from a table.",
            ),
        ],
        check=lambda answer: check_press_release_source(view, answer),
        variant=variant,
    )


def plasma_tnf(view: pd.DataFrame, variant: str = "student") -> teaching.PredictThenReveal:
    return teaching.PredictThenReveal(
        "In the same study, what happened to TNF in the blood plasma after the 20-minute walk?",
        [
            Choice(
                "It went down",
                "decrease",
                "The fall was inside stimulated monocytes (cells), not in the TNF circulating in the plasma.",
            ),
            Choice("It went up", "increase", "A long, hard race can raise plasma TNF; 20 minutes of walking did not."),
            Choice("It did not change", "no_change"),
        ],
        check=lambda answer: teaching.check_direction(
            view, answer, study_id="dimitrov2017", outcome_code="tnf", sample_matrix="plasma"
        ),
        reveal=lambda: notebook.show_table(
            explorer.findings_table(evidence.filter_findings(view, topics="twenty_minute_walk"))
        ),
        variant=variant,
    )


def claims_explorer_after(package, view: pd.DataFrame, questions, variant: str = "student") -> teaching.Unlock:
    """The claims explorer, locked until the verdicts are committed (the static instructor page gets the board)."""
    return teaching.Unlock(
        questions,
        show=(lambda: explorer.ClaimsExplorer(package).widget())
        if variant == "student"
        else (lambda: charts.build_claims_board(charts.claims_table(package, view))),
        locked="The claims explorer (with every curated verdict) opens once you have committed your verdicts above.",
        variant=variant,
    )


# ------------------------------------------------------------------------------------ lesson 4
def sof_cell(package, view: pd.DataFrame, intervention: str, outcome: str) -> pd.Series:
    """The Summary-of-Findings row of one cell (the human, repeated-exposure row when there are several)."""
    selection = evidence.filter_findings(view, interventions=intervention, outcomes=outcome)
    sof = evidence.summary_of_findings(selection, package.certainty_overrides)
    if sof.empty:
        raise ValueError(f"no findings for {intervention} x {outcome}")
    preferred = sof[(sof["species_group"] == "human")].sort_values("n_studies", ascending=False)
    return (preferred if len(preferred) else sof).iloc[0]


def used_findings(view: pd.DataFrame, cell: pd.Series) -> pd.DataFrame:
    """The findings the cell's estimate rests on (the chosen review, or the pooled studies)."""
    return view[view["finding_id"].isin(str(cell["finding_ids"]).split())]


def reported_i2(view: pd.DataFrame, cell: pd.Series) -> float:
    """I² of the cell: the pooled one, or the one the chosen review reported (NaN when unknown)."""
    if pd.notna(cell["i2"]):
        return float(cell["i2"])
    used = used_findings(view, cell)
    values = used["i2_pct"].dropna()
    return float(values.iloc[0]) if len(values) else float("nan")


def check_favours_side(cell: pd.Series, answer: str) -> Feedback:
    """The favourable side follows the outcome's favourable direction (outcomes.csv), as the plot's axis does."""
    favourable = str(cell["favourable_direction"])
    good = "left" if favourable == "decrease" else "right" if favourable == "increase" else None
    side = {"left": "the left (below zero)", "right": "the right (above zero)"}.get(good, "neither side")
    text = (
        f"For {cell['outcome_label']} a {favourable} is good for health, so {side} favours the intervention; the "
        "axis title says so at each end."
    )
    return teaching.right_or_not(answer == good, text)


def favours_side(cell: pd.Series, variant: str = "student") -> teaching.MultipleChoice:
    return teaching.MultipleChoice(
        f"On the forest plot, which side of the zero line favours {str(cell['intervention_label']).lower()}?",
        [
            Choice(
                "The right: numbers above zero are better",
                "right",
                "Bigger is not always better: it depends on whether the outcome should go up or down.",
            ),
            Choice("The left: below zero means lower CRP, which is the good direction here", "left"),
            Choice(
                "Neither: the side depends on the study",
                "neither",
                "The side follows the outcome, not the study: every row of one panel uses the same axis.",
            ),
        ],
        check=lambda answer: check_favours_side(cell, answer),
        variant=variant,
    )


def read_estimate(view: pd.DataFrame, cell: pd.Series, variant: str = "student") -> teaching.Numeric:
    used = used_findings(view, cell).iloc[0]
    return teaching.Numeric(
        f"Read the whole-review estimate of {used['short_cite']} off the forest plot (the row without a subgroup; "
        "hover a point for its numbers). What is the effect?",
        answer=lambda: float(cell["estimate"]),
        tolerance=0.1,
        explain=lambda: (
            f"It is {cell['effect_text']}: the average effect over the "
            + (f"{int(used['n_studies'])} " if pd.notna(used["n_studies"]) else "")
            + "studies the review pooled."
        ),
        unit=str(cell["scale"]),
        variant=variant,
    )


def check_ci_includes_zero(cell: pd.Series, answer: str) -> Feedback:
    crosses = bool(cell["ci_low"] <= 0 <= cell["ci_high"])
    right = "yes" if crosses else "no"
    text = (
        f"The 95 % confidence interval runs from {cell['ci_low']:.2f} to {cell['ci_high']:.2f}, so it "
        + ("includes" if crosses else "does not include")
        + " zero (no effect). "
        + (
            "The data are compatible with no average effect."
            if crosses
            else "The average effect is unlikely to be zero, but the interval says nothing about single programmes."
        )
    )
    return teaching.right_or_not(answer == right, text)


def ci_includes_zero(cell: pd.Series, variant: str = "student") -> teaching.MultipleChoice:
    return teaching.MultipleChoice(
        "Does the 95 % confidence interval of that estimate include zero (no effect)?",
        [Choice("Yes", "yes"), Choice("No", "no")],
        check=lambda answer: check_ci_includes_zero(cell, answer),
        variant=variant,
    )


def check_next_programme(view: pd.DataFrame, sof_all: pd.DataFrame, cell: pd.Series, answer: str) -> Feedback:
    i2 = reported_i2(view, cell)
    has_pi = pd.notna(cell["pi_low"])
    heterogeneous = (has_pi and cell["pi_low"] < 0 < cell["pi_high"]) or (pd.notna(i2) and i2 >= 50)
    right = "wider" if heterogeneous else "within"
    n_pi = int(sof_all["pi_low"].notna().sum())
    if has_pi:
        interval = f"The prediction interval runs from {cell['pi_low']:.2f} to {cell['pi_high']:.2f}."
    else:
        interval = (
            "The review printed I² but not τ², so the prediction interval cannot be computed from what it reported; "
            f"this data set computes one only where it pools three or more independent primary studies "
            f"({n_pi} cells today)."
        )
    text = (
        (f"I² = {i2:.0f} %: " if pd.notna(i2) else "I² was not reported: ")
        + (
            "most of the spread between studies is real, not chance. The confidence interval describes the *average* "
            "effect; the effect in one new setting scatters much more widely, and may be no effect at all. "
            if heterogeneous
            else "the studies agree, so a new setting is likely to see an effect close to the average. "
        )
        + interval
    )
    return teaching.right_or_not(answer == right, text)


def next_programme(view: pd.DataFrame, sof_all: pd.DataFrame, cell: pd.Series, variant: str = "student"):
    i2 = reported_i2(view, cell)
    i2_text = f"I² = {i2:.0f} %" if pd.notna(i2) else "I² not reported"
    return teaching.MultipleChoice(
        f"The review reported {i2_text} (how much of the spread between its studies is more than chance). "
        "A school starts a new programme like those in the review. Where is its effect on CRP likely to fall?",
        [
            Choice(
                f"Inside the confidence interval ({cell['ci_low']:.2f} to {cell['ci_high']:.2f})",
                "within",
                "The confidence interval is about the average effect over studies, not about one new setting: "
                "that is what a prediction interval is for, and it is wider.",
            ),
            Choice("In a much wider range, which may include no effect", "wider"),
            Choice(
                f"Exactly at the average, {cell['estimate']:.2f}",
                "exact",
                "An average is not a promise: single studies scatter around it.",
            ),
        ],
        check=lambda answer: check_next_programme(view, sof_all, cell, answer),
        variant=variant,
    )


CERTAINTY_MISCONCEPTIONS = {
    "high": "A meta-analysis of randomised trials is the top of the ladder, so it seems it must be sure. The ladder "
    "says where the evidence starts; GRADE then lowers it for problems.",
    "moderate": "One step down is a common guess for a good review.",
    "low": "",
    "very_low": "",
}


def check_certainty(cell: pd.Series, answer: str) -> Feedback:
    text = f"{cell['downgrades_short']} In GRADE's words: {cell['statement']}"
    return teaching.right_or_not(answer == cell["certainty"], text)


def certainty(cell: pd.Series, variant: str = "student") -> teaching.PredictThenReveal:
    return teaching.PredictThenReveal(
        f"Given all this, how sure can we be about the effect of {str(cell['intervention_label']).lower()} on "
        f"{cell['outcome_label']}? (GRADE certainty)",
        [
            Choice(label, key, CERTAINTY_MISCONCEPTIONS[key])
            for label, key in [("High", "high"), ("Moderate", "moderate"), ("Low", "low"), ("Very low", "very_low")]
        ],
        check=lambda answer: check_certainty(cell, answer),
        reveal=lambda: notebook.show_table(explorer.sof_table(cell.to_frame().T.reset_index(drop=True))),
        variant=variant,
    )


def headline(view: pd.DataFrame, cell: pd.Series, variant: str = "student") -> teaching.FreeText:
    i2 = reported_i2(view, cell)
    spread = "the studies disagreed a lot" if pd.notna(i2) and i2 >= 50 else "the studies broadly agreed"
    return teaching.FreeText(
        f"Write one or two sentences for a school newsletter on {str(cell['intervention_label']).lower()} and "
        f"{cell['outcome_label']} that say how big the effect is and how sure we are.",
        model_answer=lambda: (
            f"{cell['statement']} The best estimate is {cell['effect_text']}; {spread}. Certainty: "
            f"{str(cell['certainty']).replace('_', ' ')}. {cell['downgrades_short']}"
        ),
        rubric=[
            "gives the direction and the size of the effect (or says it is uncertain)",
            "says how sure we are, in words a reader understands",
            "names at least one reason for the doubt (for example, the studies disagree)",
            "does not promise the effect for every school or person",
        ],
        variant=variant,
    )
