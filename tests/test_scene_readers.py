"""AIR's representation experiment in the runner: the readers (foveate.models.scene_readers), the
labelled scene tasks (foveate.data.scene_tasks), a run that tests its last weights, the specs."""

import json
import sys
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import save_model

import foveate
from foveate.bench.weights import load_weights
from foveate.data.multi_mnist import Scenes
from foveate.data.scene_tasks import LABELLED_POOL, SceneTaskDataModule, targets
from foveate.models import create_model, model_entry
from foveate.models.air import TINY as TINY_AIR
from foveate.models.scene_readers import RelationNetwork

ROOT = Path(__file__).resolve().parents[1]
TINY = model_entry("relation_reader").tiny
READERS = ("latents", "pixels", "objects", "glimpses")
SPECS = [f"air_representation_{t}_{r}" for t in ("sum", "order") for r in READERS]


def reader(**changes) -> torch.nn.Module:
    torch.manual_seed(0)
    return create_model("relation_reader", **{**TINY, **changes})


def latents(batch: int = 5, steps: int = 3, features: int = 8) -> torch.Tensor:
    torch.manual_seed(0)
    z = torch.randn(batch, steps, features)
    z[..., 0] = torch.tensor([1.0, 1.0, 0.0])  # the third step holds no object
    return z


def tiny_air_weights(folder: Path, seed: int = 1) -> Path:
    """A tiny AIR's weights as the runner exports them: safetensors with the run config in its
    metadata, and the config beside it."""
    args = {**TINY_AIR, "initial_presence": 0.9, "image_size": 50, "channels": 1}
    torch.manual_seed(seed)
    air = create_model("air", **args)
    config = yaml.safe_dump({"model": "air", "model_args": args})
    path = folder / "seed0.safetensors"
    folder.mkdir(parents=True, exist_ok=True)
    save_model(air, str(path), metadata={"foveate_config": config})
    path.with_suffix(".yaml").write_text(config)
    return path


# -- the relation reader ----------------------------------------------------------------------


def test_the_order_of_the_steps_does_not_matter():
    model, z = reader(), latents()
    assert torch.allclose(model.read(z), model.read(z[:, [1, 0, 2]]), atol=1e-6)
    assert torch.allclose(model.read(z), model.read(z[:, [2, 1, 0]]), atol=1e-6)


def test_an_absent_step_contributes_nothing():
    model, z = reader(), latents()
    other = z.clone()
    other[:, 2, 1:] = torch.randn_like(other[:, 2, 1:]) * 10
    assert torch.allclose(model.read(z), model.read(other), atol=1e-6)
    assert torch.allclose(model.read(z), model.read(z[:, :2]), atol=1e-6)  # as if never there


def test_the_relation_network_learns_whether_the_smaller_class_lies_left():
    """The order task in miniature: two objects, each a position and a class."""
    torch.manual_seed(1)
    n = 2048
    x = torch.rand(n, 2)  # each object's horizontal position
    c = torch.randint(0, 10, (n, 2)).float() / 10  # each object's class
    z = torch.stack([torch.ones(n, 2), x, c], -1)  # (n, 2, 3)
    rows, left = torch.arange(n), (x[:, 1] < x[:, 0]).long()  # the left object's index
    y = (c[rows, left] <= c[rows, 1 - left]).long()
    network = RelationNetwork(3, 2, hidden=32)
    optimiser = torch.optim.Adam(network.parameters(), lr=3e-3)
    for _ in range(600):
        loss = torch.nn.functional.cross_entropy(network(z), y)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    accuracy = (network(z).argmax(-1) == y).float().mean().item()
    assert accuracy > 0.9, accuracy


def test_the_latents_are_airs_most_likely_decomposition_zeroed_where_absent():
    model = reader(encoder_args={**TINY_AIR, "initial_presence": 0.5})
    images = torch.rand(16, 1, 50, 50)
    z = model.latents(images)
    out = model.encoder(images, mode=True)
    assert z.shape == (16, TINY_AIR["steps"], 1 + 3 + TINY_AIR["z_what_size"])
    assert torch.equal(z[..., 0], out.z_pres)
    present = out.z_pres[..., None]
    assert torch.equal(z[..., 1:4], out.where_loc * present)
    assert torch.equal(z[..., 4:], out.what_loc * present)


def test_the_encoder_is_frozen_and_not_saved():
    model = reader()
    encoder = dict(model.encoder.named_buffers())
    assert encoder and not list(model.encoder.parameters())
    assert all(name.startswith("reader.") for name, _ in model.named_parameters())
    assert set(model.state_dict()) == {"encoder_digest", *(n for n, _ in model.named_parameters())}
    model.train()
    assert model.training and not model.encoder.training
    model.loss(model(torch.rand(4, 1, 50, 50)), torch.tensor([0, 1, 2, 3])).total.backward()
    assert all(p.grad is not None for p in model.parameters())
    assert not any(t.requires_grad for t in encoder.values())


def test_a_fresh_encoder_is_the_same_every_time_and_leaves_the_seed_alone():
    torch.manual_seed(5)
    model = create_model("relation_reader", **TINY)
    after = torch.rand(3)
    torch.manual_seed(5)
    plain = RelationNetwork(1 + 3 + TINY_AIR["z_what_size"], 19, hidden=TINY["hidden"])
    assert torch.equal(torch.rand(3), after)  # building the encoder drew nothing
    for (name, a), (_, b) in zip(
        model.reader.named_parameters(), plain.named_parameters(), strict=True
    ):
        assert torch.equal(a, b), name  # the reader starts as it would alone
    torch.manual_seed(6)
    other = create_model("relation_reader", **TINY)
    for (name, a), (_, b) in zip(
        model.encoder.named_buffers(), other.encoder.named_buffers(), strict=True
    ):
        assert torch.equal(a, b), name  # a fresh encoder is the same whatever the seed


def test_the_encoder_is_read_from_a_weights_file(tmp_path):
    path = tiny_air_weights(tmp_path / "air")
    model = create_model("relation_reader", encoder=str(path), num_classes=2)
    air, _ = load_weights(path)
    images = torch.rand(4, 1, 50, 50)
    assert torch.equal(model.latents(images)[..., 0], air(images, mode=True).z_pres)
    with pytest.raises(ValueError, match="encoder_args"):
        create_model("relation_reader", encoder=str(path), encoder_args={"steps": 2})
    with pytest.raises(FileNotFoundError, match="foveate bench air_multimnist"):
        create_model("relation_reader", encoder=str(tmp_path / "none.safetensors"))
    with pytest.raises(ValueError, match="50x50"):
        model.check_input_size(60, 60)
    again = create_model("relation_reader", encoder=str(path), num_classes=2)
    again.load_state_dict(model.state_dict())  # the same encoder
    tiny_air_weights(tmp_path / "air", seed=2)  # the file written again, other weights
    other = create_model("relation_reader", encoder=str(path), num_classes=2)
    with pytest.raises(RuntimeError, match="another encoder"):
        other.load_state_dict(model.state_dict())


def test_the_pixel_cnn_classifies_scenes():
    torch.manual_seed(0)
    model = create_model("pixel_cnn", image_size=50, num_classes=19)
    assert model(torch.rand(2, 1, 50, 50)).shape == (2, 19)
    assert torch.allclose(model.predict_proba(torch.rand(2, 1, 50, 50)).sum(-1), torch.ones(2))


# -- the tasks --------------------------------------------------------------------------------


def scenes(classes: list[list[int]], lefts: list[list[float]], tops=None) -> Scenes:
    classes_ = torch.tensor(classes)
    left = torch.tensor(lefts, dtype=torch.float32)
    top = torch.tensor(tops, dtype=torch.float32) if tops else torch.zeros_like(left)
    boxes = torch.stack([left, top, left + 28, top + 28], -1) * (classes_ >= 0)[..., None]
    return Scenes(
        images=torch.zeros(len(classes), 50, 50, dtype=torch.uint8),
        counts=(classes_ >= 0).sum(1),
        classes=classes_,
        boxes=boxes,
    )


def test_the_sum_of_hand_made_scenes():
    made = scenes([[3, 5], [-1, -1], [9, -1], [9, 9]], [[0, 20], [0, 0], [10, 0], [0, 22]])
    assert targets("sum", made).tolist() == [8, 0, 9, 18]


def test_the_order_of_hand_made_scenes():
    made = scenes(
        [[7, 2], [7, 2], [4, 4], [1, 8], [8, 1]],
        [[30, 0], [0, 30], [0, 22], [22, 22], [22, 22]],
        tops=[[0, 0], [0, 0], [0, 0], [21, 0], [21, 0]],  # the last two: one left edge, by top
    )
    # left to right: 2 7 (ascending), 7 2 (not), 4 4 (ties ascend), 8 1 (not), 1 8 (ascending)
    assert targets("order", made).tolist() == [1, 0, 1, 0, 1]
    with pytest.raises(ValueError, match="two digits"):
        targets("order", scenes([[3, -1]], [[0, 0]]))


def data(**settings) -> SceneTaskDataModule:
    module = SceneTaskDataModule(**{"sample": True, "test_size": 300, **settings})
    module.setup("fit")
    return module


def test_the_labelled_sets_have_the_asked_size_and_are_fixed_by_the_seed():
    small, again, large = data(labels=100), data(labels=100), data(labels=300)
    train = small.datasets["train"]
    assert len(train.targets) == 100 and len(large.datasets["train"].targets) == 300
    assert len(small.datasets["test"]) == 300 and len(small.datasets["val"]) == 200
    for split in ("train", "val", "test"):
        assert torch.equal(small.datasets[split].images, again.datasets[split].images)
        assert torch.equal(small.datasets[split].targets, again.datasets[split].targets)
    # a smaller budget's scenes are the first of a larger one's; the test scenes are the same
    assert torch.equal(large.datasets["train"].images[:100], train.images)
    assert torch.equal(large.datasets["test"].images, small.datasets["test"].images)
    other = data(labels=100, data_seed=1)
    assert not torch.equal(other.datasets["train"].images, train.images)
    assert 100 < LABELLED_POOL and train.targets.max() <= 18


def test_the_tasks_scenes_and_answers():
    total = data(task="sum", labels=500)
    pair = data(task="order", labels=500)
    images, answers = total.datasets["test"].images, total.datasets["test"].targets
    assert answers.min() >= 0 and answers.max() <= 18 and images.shape[1:] == (50, 50)
    assert (images.flatten(1).amax(1) == 0).any()  # some scenes are empty (sum 0)
    assert set(pair.datasets["test"].targets.unique().tolist()) == {0, 1}
    assert total.model_defaults()["num_classes"] == 19 and pair.model_defaults()["num_classes"] == 2
    assert pair.record() == {"dataset": "mnist", "task": "order", "labels": 500}


def test_batches_are_drawn_with_replacement_from_the_run_seed():
    module = data(labels=100, batch_size=64, epoch_size=640, val_size=0)
    assert "val" not in module.datasets and module.val_dataloader() == []
    train = module.datasets["train"]
    loader = module.train_dataloader()
    assert len(loader) == 10
    train.reseed(0)
    images, answers = next(iter(loader))
    assert images.shape == (64, 1, 50, 50) and images.dtype == torch.float32
    index = torch.randint(0, 100, (64,), generator=torch.Generator().manual_seed(0))
    assert torch.equal(answers, train.targets[index])  # the stream of the script it replaces
    assert torch.equal(images[:, 0], train.images[index].float() / 255)


def test_a_task_and_its_sizes_are_checked():
    with pytest.raises(ValueError, match="task"):
        SceneTaskDataModule("product", sample=True)
    with pytest.raises(ValueError, match="labels"):
        SceneTaskDataModule(labels=0, sample=True)
    with pytest.raises(ValueError, match="val_size"):
        SceneTaskDataModule(val_size=-1, sample=True)


# -- training: a fixed number of updates, the last weights tested ------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("model", ["relation_reader", "pixel_cnn"])
def test_a_run_with_no_validation_tests_its_last_weights(model, tmp_path):
    config = {
        "model": model,
        "model_args": model_entry(model).tiny,
        "data": {
            "task": "order",
            "labels": 100,
            "val_size": 0,
            "sample": True,
            "batch_size": 16,
            "epoch_size": 96,
            "test_size": 200,
            "eval_batch_size": 100,
        },
        "optim": {"lr_schedule": "constant", "weight_decay": 1e-4},
        "trainer": {
            "max_epochs": 2,
            "test_checkpoint": "last",
            "progress_bar": False,
            "accelerator": "cpu",
        },
    }
    run = tmp_path / "run"
    summary = foveate.train(config, run)
    last = run / "checkpoints" / "last.ckpt"
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["last.ckpt"]
    assert summary["best_checkpoint"] == str(last) and summary["epochs"] == 2
    assert not any(key.startswith("best_val") for key in summary)
    assert summary["test_images"] == 200 and 0 <= summary["test_error_pct"] <= 100
    assert "best validation" not in summary["summary"]
    assert torch.load(last, weights_only=False)["global_step"] == 12  # 2 epochs of 96 / 16
    assert foveate.evaluate(last)["test_error_pct"] == summary["test_error_pct"]


# -- the specs, through the runner, and the figure read from their records ---------------------


@pytest.mark.slow
def test_the_specs_smoke_run_and_the_script_reads_their_records(tmp_path, monkeypatch):
    from foveate.bench import cli
    from foveate.bench.record import read_record

    encoder = tiny_air_weights(tmp_path / "air")
    records, runs = tmp_path / "records", tmp_path / "runs"
    made = {}
    for name in SPECS:
        argv = [name, "--smoke", "--records", str(records), "--runs", str(runs)]
        if not name.endswith("_pixels"):  # air_multimnist's weights stand for a tiny AIR's
            argv += ["--set", f"model_args.encoder={encoder}"]
        assert cli.main(argv) == 0
        made[name] = read_record(records / "probes" / f"{name}.json")
        assert made[name]["config"]["trainer"]["test_checkpoint"] == "last"
        assert "test_error_pct" in made[name]["metrics"]
    # every budget's record, as the runner would write it, from the smoke runs'
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import air_representation as script
    import common

    probes = tmp_path / "probes"
    probes.mkdir()
    for i, name in enumerate(script.commands(None, None)):
        spec = name.rsplit("_", 1)[0]
        record = {**made[spec], "name": name, "metrics": {"test_error_pct": float(i)}}
        (probes / f"{name}.json").write_text(json.dumps(record))
    monkeypatch.setattr(script, "PROBES", probes)
    monkeypatch.setattr(common, "PROBES", probes)
    monkeypatch.setattr(script, "ROOT", tmp_path)
    monkeypatch.setattr(sys, "argv", ["air_representation.py"])
    script.main()
    assert (tmp_path / "docs" / "figures" / "air_representation.png").stat().st_size > 1000
    combined = read_record(probes / "air_representation.json")
    # the commands run task by task, reader by reader, budget by budget: error i for the i-th
    assert combined["metrics"]["sum_air_latents_accuracy_pct_100_labels"] == 100.0
    assert combined["metrics"]["order_cnn_accuracy_pct_10000_labels"] == 71.0
    assert combined["metrics"]["order_air_glimpses_accuracy_pct_10000_labels"] == 61.0
    assert 0 < combined["metrics"]["order_majority_class_accuracy_pct"] < 100
    assert len(combined["records"]) == 40
    # a reader none of whose points has run is left out; the required two are enough
    for path in probes.glob("air_representation_*_objects_*.json"):
        path.unlink()
    script.main()
    combined = read_record(probes / "air_representation.json")
    assert len(combined["records"]) == 30
    assert not any("air_objects" in key for key in combined["metrics"])
