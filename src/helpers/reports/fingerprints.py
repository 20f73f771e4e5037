"""Fingerprints: content hashes of a job's inputs, so an unchanged job is carried over, not rerun."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from helpers.data import package_digest as data_package_hash
from helpers.paths import hash_files
from helpers.reports.plan import Job

__all__ = ["HELPERS_ROOT", "code_hash", "data_package_hash", "hash_files", "job_fingerprint"]

#: The ``helpers`` package: its code and templates are an input of every job.
HELPERS_ROOT = Path(__file__).resolve().parents[1]


def code_hash() -> str:
    """Content hash of the ``helpers`` package (code and report template)."""
    files = [p for p in HELPERS_ROOT.rglob("*") if p.is_file() and p.suffix in {".py", ".j2", ".json", ".css"}]
    return hash_files(files, HELPERS_ROOT)


def job_fingerprint(job: Job, data_hash: str, helpers_hash: str) -> str:
    digest = hashlib.sha256()
    for part in [
        job.notebook.read_bytes(),
        job.notebook.with_suffix(".yaml").read_bytes(),
        json.dumps(job.parameters, sort_keys=True).encode(),
        data_hash.encode(),
        helpers_hash.encode(),
    ]:
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()


def plan_digest(fingerprints: dict[str, str]) -> str:
    """One hash of a whole plan: every job's name and fingerprint (so its notebook, parameters, data and code).

    The shards of a sharded build must carry the same digest to be merged.
    """
    return hashlib.sha256(json.dumps(sorted(fingerprints.items())).encode()).hexdigest()
