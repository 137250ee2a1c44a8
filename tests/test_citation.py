"""CITATION.cff says what pyproject.toml says (version, licence), and LICENSE is that licence."""

import re
from pathlib import Path

import yaml

import foveate

ROOT = Path(__file__).resolve().parents[1]


def project_field(name: str) -> str:
    """A top-level string field of pyproject.toml's [project] table (tomllib is 3.11+)."""
    text = (ROOT / "pyproject.toml").read_text()
    project = text.split("[project]", 1)[1].split("\n[", 1)[0]
    (value,) = re.findall(rf'^{name}\s*=\s*"([^"]*)"', project, flags=re.M)
    return value


def test_citation_parses_and_names_the_version_and_licence_of_the_package():
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert citation["cff-version"] == "1.2.0"
    assert citation["version"] == project_field("version") == foveate.__version__
    assert citation["license"] == "MIT"
    assert 'license = { text = "MIT" }' in (ROOT / "pyproject.toml").read_text()
    assert citation["authors"] == [{"name": "the foveate developers"}]
    for key in ("title", "message"):
        assert citation[key].strip()


def test_citation_references_the_papers_the_models_come_from():
    references = yaml.safe_load((ROOT / "CITATION.cff").read_text())["references"]
    cited = {(r["authors"][0]["family-names"], r["year"]) for r in references}
    assert cited == {
        ("Mnih", 2014),  # RAM
        ("Gregor", 2015),  # DRAW
        ("Jaderberg", 2015),  # spatial transformer networks
        ("Eslami", 2016),  # AIR
        ("Chen", 2016),  # InfoGAN
        ("Raffel", 2015),  # feed-forward attention
        ("Xu", 2015),  # show, attend and tell
    }
    for reference in references:
        assert reference["type"] and reference["title"] and reference["url"].startswith("https://")


def test_licence_is_mit_with_the_developers_copyright():
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License")
    assert "Copyright (c) 2026 the foveate developers" in text
