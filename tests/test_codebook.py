"""The codebook data/README.md is generated from the schemas and must not go stale."""

from __future__ import annotations

from helpers import codebook, data, paths
from helpers.cli import main


def test_committed_codebook_matches_the_schemas(package):
    committed = (paths.data_dir() / "README.md").read_text(encoding="utf-8")
    assert committed == codebook.render_codebook(package), "data/README.md is stale: run `make codebook`"


def test_codebook_documents_every_column_and_rule(package):
    text = codebook.render_codebook(package)
    for name, schema in data.resource_schemas(package.descriptor).items():
        assert f"## {name}" in text
        for spec in schema["fields"]:
            assert f"| `{spec['name']}` |" in text, (name, spec["name"])
    for rule in data.RULES:
        assert rule.expected in text


def test_codebook_check_fails_after_a_schema_edit(data_copy, capsys):
    schema_path = data_copy / "schemas" / "topics.json"
    schema_path.write_text(schema_path.read_text(encoding="utf-8").replace("Topic code.", "The topic's code."))
    assert main(["codebook", "--check", str(data_copy)]) == 1
    assert "stale" in capsys.readouterr().err
    assert main(["codebook", str(data_copy)]) == 0
    assert main(["codebook", "--check", str(data_copy)]) == 0
