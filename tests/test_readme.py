"""The README's Python example runs as written, and its commands name only files in the repository."""

import re
from pathlib import Path

import pytest
import torch

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_commands_point_inside_the_repository():
    text = README.read_text()
    commands = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
    assert commands
    for block in commands:
        assert "../" not in block, block


def python_examples() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


@pytest.mark.slow
def test_readme_python_example_runs(tmp_path, monkeypatch):
    example = python_examples()[0]
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(example, "README.md", "exec"), namespace)
    assert namespace["results"]["test_error_pct"] < 50  # six epochs of 4,500 digits; chance is 90
    assert namespace["output"].logits.shape == (4, 10)
    assert namespace["windows"].shape == (4, 1, 28, 28)
    assert (tmp_path / "runs" / "api-stn" / "checkpoints" / "best.ckpt").is_file()


MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"


@pytest.mark.skipif(not MNIST.is_dir(), reason=f"needs the MNIST files in {MNIST}")
def test_readme_inference_example_runs(tmp_path, monkeypatch):
    """The second example: pretrained AIR, reader and RAM, on test canvases
    found through $FOVEATE_DATA (as a user's would be), offline."""
    _, example = python_examples()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FOVEATE_DATA", str(MNIST.parent))
    namespace: dict = {}
    exec(compile(example, "README.md", "exec"), namespace)
    found, truth = namespace["found"], namespace["truth"]
    assert namespace["scenes"].shape == (8, 1, 50, 50)
    assert found.z_pres.shape == (8, 3) and found.z_where.shape == (8, 3, 3)
    # AIR counts 98.6% of test scenes right, these eight (fixed by the data seed) among them.
    assert found.count.tolist() == truth["count"].tolist()
    reading, rows = namespace["reading"], namespace["rows"]
    assert rows.shape == (4, 1, 36, 156)
    assert reading.tokens.shape == (4, 6) and reading.maps.shape == (4, 6, 36, 156)
    assert torch.allclose(reading.maps.sum((-2, -1)), torch.ones(4, 6), atol=1e-4)
    read = [[t for t in row if t >= 0][:-1] for row in reading.tokens.tolist()]  # less the end
    wanted = [[d for d in row if d >= 0] for row in namespace["targets"]["labels"].tolist()]
    assert read == wanted  # the reader reads 98.35% of test rows right; these four among them
    episode, labels = namespace["episode"], namespace["labels"]
    assert namespace["digits"].shape == (8, 1, 28, 28) and labels.shape == (8,)
    assert episode.locations.shape == (8, 6, 2) and episode.locations.abs().max() <= 1
    assert torch.allclose(namespace["probabilities"].sum(-1), torch.ones(8))
    # RAM errs on 1.03% of test digits (M=1); averaged over ten paths, these eight are all right
    assert namespace["probabilities"].argmax(-1).tolist() == labels.tolist()
