"""A bounded hypothesis fuzz of parse/lint/fix (a few seconds; the long run is
benchmarks/fuzz_pipeline.py). Derandomized, so a failure reproduces on every run."""

from __future__ import annotations

from fuzz_sources import invariant_violations, source_files
from hypothesis import HealthCheck, given, settings


@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(source_files())
def test_generated_files_keep_every_pipeline_invariant(source: bytes) -> None:
    assert invariant_violations(source) == [], source
