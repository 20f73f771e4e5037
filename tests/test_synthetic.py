"""The seeded synthetic-data generator used by benchmarks and scale tests."""

from __future__ import annotations

import pandas as pd
import pytest

from helpers import data, paths, synthetic


def test_synthetic_package_is_valid_and_has_the_requested_size(tmp_path):
    target = synthetic.write_synthetic_package(tmp_path / "syn", 2_000, seed=7)
    assert data.validate_package(target) == []
    package = data.load_package(target)
    assert len(package.findings) == 2_000
    real = pd.read_csv(paths.data_dir() / "findings.csv", dtype=str)
    assert set(real["finding_id"]) <= set(package.findings["finding_id"]), "the real rows are kept"
    assert "synthetic" in package.version


def test_generated_rows_are_marked_and_carry_no_invented_identifiers(tmp_path):
    package = data.load_package(synthetic.write_synthetic_package(tmp_path / "syn", 1_000, seed=1))
    generated = package.studies[package.studies["study_id"].str.startswith("syn")]
    assert len(generated) > 0
    assert generated["pmid"].isna().all() and generated["doi"].isna().all()
    assert generated["url"].str.startswith(synthetic.SYNTHETIC_URL).all()
    assert generated["full_citation"].str.contains("not a real study").all()
    findings = package.findings[package.findings["study_id"].str.startswith("syn")]
    assert (findings["source_location"] == "synthetic (generated for benchmarks)").all()


def test_same_seed_same_bytes_other_seed_other_data(tmp_path):
    a = synthetic.write_synthetic_package(tmp_path / "a", 1_500, seed=3)
    b = synthetic.write_synthetic_package(tmp_path / "b", 1_500, seed=3)
    c = synthetic.write_synthetic_package(tmp_path / "c", 1_500, seed=4)
    assert (a / "findings.csv").read_bytes() == (b / "findings.csv").read_bytes()
    assert (a / "findings.csv").read_bytes() != (c / "findings.csv").read_bytes()


def test_refuses_a_size_below_the_real_data_or_a_non_empty_folder(tmp_path):
    with pytest.raises(ValueError, match="at least"):
        synthetic.write_synthetic_package(tmp_path / "small", 10)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x.txt").write_text("keep me")
    with pytest.raises(FileExistsError):
        synthetic.write_synthetic_package(tmp_path / "full", 1_000)
    assert (tmp_path / "full" / "x.txt").read_text() == "keep me"
