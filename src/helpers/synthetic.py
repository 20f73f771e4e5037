"""A seeded generator of large, valid data packages, for benchmarks and scale tests.

The synthetic package is the real one plus generated studies and findings, so that topics, claims
and notebooks keep working. Generated rows are unmistakable: ids start with ``syn``, citations say
"synthetic", they carry no PMID or DOI (a placeholder URL and the reason instead) and their source
location is "synthetic (generated for benchmarks)". They are never written into ``data/``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from helpers import paths

SYNTHETIC_URL = "https://example.org/synthetic"
FINDINGS_PER_STUDY = 8
#: (design, species) pairs whose evidence level can be derived.
DESIGN_SPECIES = [
    ("sr_ma", "human"),
    ("rct", "human"),
    ("rct_crossover", "human"),
    ("nrct", "human"),
    ("pre_post", "human"),
    ("cross_sectional", "human"),
    ("narrative_review", "human"),
    ("animal_experiment", "mouse"),
    ("in_vitro", "human_cells"),
]


def write_synthetic_package(target: Path | str, n_findings: int, seed: int = 0, source: Path | None = None) -> Path:
    """Write a valid data package with ``n_findings`` findings in total to ``target``; return it.

    Args:
        target: folder to create (must not exist or be empty).
        n_findings: total findings, real ones included (at least as many as the real package has).
        seed: random seed; the same seed gives the same package, byte for byte.
        source: the real package to extend (default: the repository's ``data/``).
    """
    source = Path(source) if source else paths.data_dir()
    target = Path(target)
    if target.exists() and any(target.iterdir()):
        raise FileExistsError(f"{target} is not empty")
    shutil.copytree(source, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns("README.md", "CHANGELOG.md"))
    real_findings = pd.read_csv(source / "findings.csv", dtype=str, keep_default_na=False)
    n_new = n_findings - len(real_findings)
    if n_new < 0:
        raise ValueError(f"n_findings must be at least {len(real_findings)} (the real findings)")
    rng = np.random.default_rng(seed)
    lookups = {
        name: pd.read_csv(source / f"{name}.csv", dtype=str, keep_default_na=False)
        for name in ["interventions", "outcomes", "conditions", "topics"]
    }
    studies = _studies(rng, max(1, -(-n_new // FINDINGS_PER_STUDY)) if n_new else 0, lookups)
    findings = _findings(rng, n_new, studies, lookups)
    _append(target / "studies.csv", studies, "study_id")
    _append(target / "findings.csv", findings, "finding_id")
    if len(studies):
        bias = pd.DataFrame(
            {
                "study_id": studies["study_id"],
                "tool": "none",
                "overall": "not_assessed",
                "judgement_source": "none",
                "note": "synthetic",
            }
        )
        _append(
            target / "risk_of_bias.csv",
            bias.reindex(columns=_header(target / "risk_of_bias.csv"), fill_value=""),
            "study_id",
        )
    descriptor_path = target / "datapackage.json"
    descriptor = json.loads(descriptor_path.read_text(encoding="utf-8"))
    descriptor["version"] = f"{descriptor['version']}+synthetic.{n_findings}.seed{seed}"
    descriptor["title"] = descriptor["title"] + " (with SYNTHETIC rows for benchmarks)"
    descriptor_path.write_text(json.dumps(descriptor, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return target


def _studies(rng: np.random.Generator, n: int, lookups: dict[str, pd.DataFrame]) -> pd.DataFrame:
    ids = np.char.add("syn", np.char.zfill(np.arange(n).astype(str), 7))
    pairs = rng.integers(0, len(DESIGN_SPECIES), n)
    design = np.array([d for d, _ in DESIGN_SPECIES])[pairs]
    species = np.array([s for _, s in DESIGN_SPECIES])[pairs]
    conditions = lookups["conditions"]["condition_code"].to_numpy()
    conditions = conditions[conditions != "multiple"]
    year = rng.integers(1995, 2026, n)
    human = species == "human"
    frame = pd.DataFrame(
        {
            "study_id": ids,
            "short_cite": np.char.add("Synthetic study ", np.arange(n).astype(str)),
            "full_citation": np.char.add("Synthetic record ", ids.astype(str))
            + " (generated for benchmarks; not a real study).",
            "authors": "",
            "title": "",
            "volume": "",
            "issue": "",
            "pages": "",
            "year": year.astype(str),
            "journal": "",
            "pmid": "",
            "doi": "",
            "url": np.char.add(f"{SYNTHETIC_URL}/", ids.astype(str)),
            "cited_pmid": "",
            "no_identifier_reason": "synthetic record generated for benchmarks; not a real study",
            "registration_id": "",
            "design_code": design,
            "species_code": species,
            "condition_code": rng.choice(conditions, n),
            "population": "synthetic",
            "age_group": np.where(
                human, rng.choice(np.array(["young_adults", "adults", "older_adults"]), n), "not_applicable"
            ),
            "mean_age_years": "",
            "sex": np.where(human, rng.choice(np.array(["male", "female", "both"]), n), "not_applicable"),
            "training_status": np.where(
                human,
                rng.choice(np.array(["sedentary", "recreationally_active", "trained", "elite"]), n),
                "not_applicable",
            ),
            "n_participants": rng.integers(6, 4000, n).astype(str),
            "n_studies_pooled": "",
            "topic_code": rng.choice(lookups["topics"]["topic_code"].to_numpy(), n),
            "verification_status": "unverified",
            "verification_note": "Synthetic: nothing to verify.",
            "source_urls": "",
        }
    )
    return frame


def _findings(
    rng: np.random.Generator, n: int, studies: pd.DataFrame, lookups: dict[str, pd.DataFrame]
) -> pd.DataFrame:
    if n == 0:
        return pd.DataFrame()
    study_index = np.repeat(np.arange(len(studies)), FINDINGS_PER_STUDY)[:n]
    number = np.tile(np.arange(1, FINDINGS_PER_STUDY + 1), len(studies))[:n]
    study_ids = studies["study_id"].to_numpy()[study_index]
    with_effect = rng.random(n) < 0.5
    measure = np.where(with_effect, rng.choice(np.array(["smd", "md"]), n), "none")
    value = np.round(rng.normal(-0.25, 0.45, n), 2)
    half_width = np.round(rng.uniform(0.05, 0.6, n), 2)
    low, high = np.round(value - half_width, 2), np.round(value + half_width, 2)
    direction = np.where(high < 0, "decrease", np.where(low > 0, "increase", "no_change"))
    without = ~with_effect
    direction[without] = rng.choice(np.array(["decrease", "increase", "no_change", "mixed"]), int(without.sum()))
    significant = np.where(direction == "no_change", "false", np.where(with_effect, "true", ""))

    def cells(values, mask):
        return np.where(mask, values.astype(str), "")

    frame = pd.DataFrame(
        {
            "finding_id": np.char.add(np.char.add(study_ids.astype(str), "_f"), np.char.zfill(number.astype(str), 2)),
            "study_id": study_ids,
            "finding_type": "effect",
            "intervention_code": rng.choice(lookups["interventions"]["intervention_code"].to_numpy(), n),
            "intervention_detail": "synthetic",
            "comparator": "synthetic comparator",
            "condition_code": studies["condition_code"].to_numpy()[study_index],
            "subgroup": "",
            "outcome_code": rng.choice(lookups["outcomes"]["outcome_code"].to_numpy(), n),
            "outcome_detail": "",
            "sample_matrix": rng.choice(np.array(["plasma", "serum", "muscle", "self_report", ""]), n),
            "timeframe": rng.choice(np.array(["acute", "short_term", "chronic", "cross_sectional"]), n),
            "timepoint": "",
            "direction": direction,
            "is_significant": significant,
            "effect_measure": measure,
            "effect_value": cells(value, with_effect),
            "effect_sign": np.where(with_effect, "standard", ""),
            "ci_low": cells(low, with_effect),
            "ci_high": cells(high, with_effect),
            "ci_level_pct": np.where(with_effect, "95", ""),
            "effect_se": "",
            "p_value": "",
            "p_value_operator": "",
            "reported_certainty": "",
            "intervention_value": "",
            "comparator_value": "",
            "value_unit": np.where(measure == "md", "pg/ml", ""),
            "n_analysed": rng.integers(6, 400, n).astype(str),
            "n_studies": "",
            "i2_pct": "",
            "source_location": "synthetic (generated for benchmarks)",
            "source_url": np.char.add(f"{SYNTHETIC_URL}/", study_ids.astype(str)),
            "value_origin": "reported",
            "verification_status": rng.choice(np.array(["verified", "partial", "unverified"]), n),
            "note": "synthetic",
        }
    )
    return frame


def _header(path: Path) -> list[str]:
    return list(pd.read_csv(path, dtype=str, nrows=0).columns)


def _append(path: Path, rows: pd.DataFrame, key: str) -> None:
    if rows.empty:
        return
    existing = pd.read_csv(path, dtype=str, keep_default_na=False)
    combined = pd.concat([existing, rows[existing.columns]], ignore_index=True).sort_values(key, kind="stable")
    combined.to_csv(path, index=False, lineterminator="\n")
