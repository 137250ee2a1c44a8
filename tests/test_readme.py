"""The README's Python example runs as written, and its commands name only files in the repository."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_commands_point_inside_the_repository():
    text = README.read_text()
    commands = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
    assert commands
    for block in commands:
        assert "../" not in block, block


@pytest.mark.slow
def test_readme_python_example_runs(tmp_path, monkeypatch):
    (example,) = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(example, "README.md", "exec"), namespace)
    assert namespace["results"]["test_error_pct"] < 50  # six epochs of 4,500 digits; chance is 90
    assert namespace["output"].logits.shape == (4, 10)
    assert namespace["windows"].shape == (4, 1, 28, 28)
    assert (tmp_path / "runs" / "api-stn" / "checkpoints" / "best.ckpt").is_file()
