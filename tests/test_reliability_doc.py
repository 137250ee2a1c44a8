"""docs/reliability.md names, for each guarantee, the tests that prove it: every test it names
exists, every guarantee names one or says "not yet proven", never both."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "reliability.md"


def guarantees() -> list[tuple[str, str]]:
    """(guarantee, its last column) for each row of the doc's first table."""
    text = DOC.read_text()
    table = text[text.index("| guarantee |") :].split("\n\n")[0].splitlines()[2:]
    rows = [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in table]
    assert all(len(row) == 3 for row in rows), rows
    return [(row[0], row[2]) for row in rows]


def functions_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}


def test_every_guarantee_names_tests_that_exist_or_says_it_is_not_yet_proven():
    rows = guarantees()
    assert len(rows) >= 8
    for guarantee, proof in rows:
        named = re.findall(r"`(tests/\w+\.py(?:::\w+)?|test_\w+)`", proof)
        if proof == "not yet proven":
            continue
        assert named and "not yet proven" not in proof, guarantee
        file = None  # a bare test name belongs to the file named before it
        for name in named:
            if name.startswith("tests/"):
                file, _, test = name.partition("::")
                assert (ROOT / file).is_file(), name
            else:
                test = name
            if test:
                assert file is not None, name
                assert test in functions_of(ROOT / file), f"{file} has no {test}"


def test_every_guarantee_is_proven_by_a_test():
    unproven = [g for g, proof in guarantees() if "not yet proven" in proof]
    assert unproven == []
