"""Pretrained models by name: the manifest is what the records give, files are found where they
should be, checked against their SHA-256, and downloaded (from a local server) when missing."""

import dataclasses
import functools
import hashlib
import http.server
import json
import shutil
import threading
from pathlib import Path

import pytest
import torch

import foveate
from foveate.bench.pretrained import (
    MANIFEST,
    WEIGHTS_FOLDER,
    Pretrained,
    PretrainedError,
    load_pretrained,
    manifest_entries,
    manifest_text,
    read_manifest,
    weights_path,
)
from foveate.bench.spec import load_specs
from foveate.bench.weights import export_weights, weights_config

ROOT = Path(__file__).resolve().parents[1]
SPECS = load_specs(ROOT)


def test_the_manifest_is_what_the_specs_and_records_give():
    entries = manifest_entries([SPECS[n] for n in SPECS.names()], ROOT)
    shipped = (ROOT / MANIFEST).read_text()
    fresh = json.loads(manifest_text(entries))
    # a URL, where one is given, is the only thing the generator cannot know
    assert [{**e, "url": None} for e in json.loads(shipped)] == fresh, (
        "benchmarks/weights/manifest.json is not what the records give: run "
        "`foveate bench --manifest`"
    )


def test_every_row_spec_names_its_pretrained_model_once():
    names = [SPECS[n].pretrained for n in SPECS.names() if SPECS[n].row is not None]
    assert None not in names and len(set(names)) == len(names)


def test_every_headline_spec_ships_weights_or_says_why_not():
    silent = [
        n
        for n in SPECS.names()
        if SPECS[n].kind == "headline"
        and SPECS[n].pretrained is None
        and not SPECS[n].no_pretrained
    ]
    assert not silent, f"headline specs with neither pretrained nor no_pretrained: {silent}"


def test_a_row_without_weights_says_why_and_a_spec_cannot_say_both():
    from foveate.bench.table import pretrained_cell

    spec = SPECS["gan_mnist"]
    cell = pretrained_cell(spec, {"seeds": [{"seed": 0, "weights": {"path": "x"}}]})
    assert cell.startswith("(none: ") and "budget" in cell
    with pytest.raises(ValueError, match="no_pretrained"):
        dataclasses.replace(SPECS["infogan_mnist"], no_pretrained="a reason")


@pytest.mark.parametrize("name", sorted(read_manifest(ROOT)))
def test_every_shipped_model_loads_and_reproduces_its_config(name):
    entry = read_manifest(ROOT)[name]
    path = weights_path(name, ROOT, download=False)
    assert path.stat().st_size == entry.bytes
    model, config = load_pretrained(name, ROOT)
    assert not model.training
    assert config.model == name.split("/")[0] or config.model in name
    assert weights_config(path).as_dict() == config.as_dict()
    # the trainer's data folder stays behind: the data are found where the user keeps them
    assert config.as_dict()["data"].get("data_dir") is None


@pytest.fixture
def a_checkout(tmp_path, monkeypatch):
    """A checkout of its own with one tiny model's weights and a manifest naming them."""
    monkeypatch.delenv("FOVEATE_WEIGHTS", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    run = tmp_path / "run"
    config = {
        "model": "cnn",
        "model_args": {"conv_width": 4, "hidden_size": 16},
        "data": {"sample": True, "task": "mnist"},
        "trainer": {"max_epochs": 1, "limit_train_batches": 2, "progress_bar": False},
    }
    foveate.train(config, run)
    root = tmp_path / "checkout"
    file = "cnn_tiny/seed0.safetensors"
    weights = export_weights(run / "checkpoints" / "best.ckpt", root / WEIGHTS_FOLDER / file)
    entry = Pretrained(
        name="cnn/tiny",
        benchmark="cnn_tiny",
        file=file,
        sha256=weights["sha256"],
        bytes=weights["bytes"],
        record="benchmarks/records/headline/cnn_tiny.json",
        metric="test_error_pct",
        figure=50.0,
        title="a tiny CNN",
    )
    (root / MANIFEST).write_text(manifest_text([entry]))
    return root, entry


def test_a_name_loads_its_model_from_the_shipped_copy(a_checkout):
    root, _ = a_checkout
    model, config = load_pretrained("cnn/tiny", root)
    assert config.model == "cnn"
    assert model(torch.rand(2, 1, 28, 28)).shape == (2, 10)


def test_an_unknown_name_is_refused_with_the_nearest(a_checkout):
    root, _ = a_checkout
    with pytest.raises(PretrainedError, match="did you mean 'cnn/tiny'"):
        weights_path("cnn/tinny", root)


def test_a_damaged_file_is_refused_in_one_line(a_checkout, tmp_path, monkeypatch):
    root, entry = a_checkout
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / entry.file).parent.mkdir(parents=True)
    damaged = bytearray((root / WEIGHTS_FOLDER / entry.file).read_bytes())
    damaged[-1] ^= 0xFF
    (elsewhere / entry.file).write_bytes(bytes(damaged))
    monkeypatch.setenv("FOVEATE_WEIGHTS", str(elsewhere))  # looked at first
    with pytest.raises(PretrainedError, match="SHA-256.*delete the file") as error:
        weights_path("cnn/tiny", root)
    assert "\n" not in str(error.value)


@pytest.fixture
def server(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield served, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def with_url(root: Path, entry: Pretrained, url: str) -> None:
    (root / MANIFEST).write_text(
        manifest_text([Pretrained(**{**entry.__dict__, "url": f"{url}/{entry.file}"})])
    )


def test_a_missing_file_is_downloaded_into_the_cache_and_checked(a_checkout, server, tmp_path):
    root, entry = a_checkout
    served, url = server
    shipped = root / WEIGHTS_FOLDER / entry.file
    (served / entry.file).parent.mkdir(parents=True)
    shutil.move(shipped, served / entry.file)
    with_url(root, entry, url)
    path = weights_path("cnn/tiny", root)
    assert path == tmp_path / "cache" / "foveate" / "weights" / entry.file
    assert hashlib.sha256(path.read_bytes()).hexdigest() == entry.sha256
    assert load_pretrained("cnn/tiny", root)[1].model == "cnn"


def test_a_download_that_fails_its_checksum_keeps_nothing(a_checkout, server, tmp_path):
    root, entry = a_checkout
    served, url = server
    (root / WEIGHTS_FOLDER / entry.file).unlink()
    (served / entry.file).parent.mkdir(parents=True)
    (served / entry.file).write_bytes(b"not the weights")
    with_url(root, entry, url)
    with pytest.raises(PretrainedError, match="nothing was kept"):
        weights_path("cnn/tiny", root)
    assert not (tmp_path / "cache" / "foveate" / "weights" / entry.file).exists()


def test_a_file_found_nowhere_without_a_url_says_where_it_looked(a_checkout):
    root, entry = a_checkout
    (root / WEIGHTS_FOLDER / entry.file).unlink()
    with pytest.raises(PretrainedError, match="in none of .*no URL"):
        weights_path("cnn/tiny", root)


def test_create_model_with_pretrained_takes_no_other_arguments():
    with pytest.raises(ValueError, match="takes no other arguments"):
        foveate.create_model("ram", pretrained="mnist_6g", glimpses=4)


def test_eval_and_show_take_a_name(a_checkout, monkeypatch, capsys, tmp_path):
    from foveate.cli import main

    root, _ = a_checkout
    (root / "benchmarks" / "specs").mkdir(parents=True)  # the checkout the commands run in
    monkeypatch.chdir(root)
    assert main(["eval", "cnn/tiny"]) == 0
    printed = capsys.readouterr().out
    assert '"test_error_pct"' in printed and "1000 test images" in printed
    assert main(["show", "cnn/tiny", "--images", "2"]) == 0
    written = capsys.readouterr().out.split()
    assert written and all(p.startswith("figures/cnn_tiny/") for p in written)
    assert main(["eval", "cnn/tinny"]) != 0  # refused in one line, with the nearest name
    assert "did you mean 'cnn/tiny'" in capsys.readouterr().err


def test_a_half_precision_copy_loads_as_float32_and_names_its_source(a_checkout):
    from foveate.bench.weights import copy_source, load_weights, sha256, write_compact_copy

    root, entry = a_checkout
    trained = root / WEIGHTS_FOLDER / entry.file
    copy = write_compact_copy(trained, "float16")
    assert copy.name == "seed0.float16.safetensors"
    assert copy_source(copy) == sha256(trained) and copy_source(trained) is None
    assert copy.stat().st_size < 0.6 * trained.stat().st_size
    full, config = load_weights(trained)
    half, half_config = load_weights(copy)
    assert half_config.as_dict() == config.as_dict()
    for (name, a), (_, b) in zip(full.state_dict().items(), half.state_dict().items(), strict=True):
        assert b.dtype == a.dtype, name  # cast back to the model's own
        assert torch.allclose(a.float(), b.float(), rtol=1e-3, atol=1e-4), name


def test_infogan_ships_a_half_precision_copy_and_the_plain_gan_none():
    # 53 MB each as trained: the manifest's budget (60 MB in all) takes InfoGAN's only as a
    # float16 copy (27 MB), and has no room for the plain GAN's beside it
    assert SPECS["infogan_mnist"].shipped_dtype == "float16"
    assert SPECS["gan_mnist"].pretrained is None and SPECS["gan_mnist"].no_pretrained


MNIST = ROOT.parent / "shared" / "data" / "mnist"


@pytest.mark.skipif(not MNIST.is_dir(), reason=f"needs the MNIST files in {MNIST}")
@pytest.mark.parametrize("name", sorted(read_manifest(ROOT)))
def test_every_shipped_model_gives_its_figure_on_a_slice_of_its_test_set(name, monkeypatch):
    """On the first tenth of its test batches, within four standard errors of the record's
    figure; the full test set is benchmarks/pretrained_check.py's."""
    from foveate.training.fit import evaluate

    monkeypatch.setenv("FOVEATE_DATA", str(MNIST.parent))
    entry = read_manifest(ROOT)[name]
    result = evaluate(
        weights_path(name, ROOT, download=False), accelerator="cpu", limit_batches=0.1
    )
    images = result["test_images"] // 10
    p = min(max(entry.figure / 100, 0.01), 0.99)  # a percentage: its binomial standard error
    tolerance = 4 * 100 * (p * (1 - p) / images) ** 0.5
    assert abs(result[entry.metric] - entry.figure) <= tolerance, (result[entry.metric], tolerance)
