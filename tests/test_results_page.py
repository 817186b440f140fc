"""The results page, benchmarks/README.md, is generated from the recorded CSVs.

It must be exactly what ``benchmarks/make_results_page.py`` writes now, so that
no figure on it is edited by hand or left behind by a new recording. Nothing is
fitted: the page is built from ``benchmarks/recorded/*.csv`` alone.
"""

import importlib.util
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
SCRIPT = BENCHMARKS / "make_results_page.py"


@pytest.fixture(scope="module")
def results_page():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        spec = importlib.util.spec_from_file_location("make_results_page", SCRIPT)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.path.remove(str(BENCHMARKS))


def test_readme_is_the_generated_page(results_page):
    expected = results_page.render()
    current = (BENCHMARKS / "README.md").read_text(encoding="utf-8")
    assert current == expected, (
        "benchmarks/README.md differs from what benchmarks/make_results_page.py "
        "writes: run python benchmarks/make_results_page.py"
    )


def test_page_is_short_and_covers_every_recording(results_page):
    text = results_page.render()
    assert len(text.splitlines()) <= 300
    for csv_path in sorted((BENCHMARKS / "recorded").glob("*.csv")):
        assert f"recorded/{csv_path.name}" in text
        if csv_path.with_suffix(".png").exists():
            assert f"(recorded/{csv_path.with_suffix('.png').name})" in text
