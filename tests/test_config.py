"""Config checking: every bad config is refused in one line that names the file or flag, what
was wrong and what would be right; every config under configs/ passes."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest
import torch

from foveate.training.config import RunConfig, TrainerSettings
from foveate.training.schema import ConfigError, check_section, check_value

CONFIGS = sorted((Path(__file__).resolve().parent.parent / "configs").glob("**/*.yaml"))


def refusal(call, *args, **kwargs) -> str:
    """The message of the ConfigError that ``call`` raises, checked to be one line."""
    with pytest.raises(ConfigError) as caught:
        call(*args, **kwargs)
    message = str(caught.value)
    assert len(message.splitlines()) == 1, message
    return message


class Model:
    """A stand-in for a registered model: the typed __init__ is the schema."""

    def __init__(
        self,
        *,
        glimpses: int = 6,
        patch_size: int = 8,
        location_std: float = 0.1,
        core: Literal["rnn", "lstm"] = "rnn",
        recurrent: bool = False,
        data_dir: str | os.PathLike | None = None,
        sizes: tuple[int, int] = (4, 4),
        steps: list[int] | None = None,
        weights: dict[str, float] | None = None,
        init: torch.Tensor | None = None,
        anything: Any = None,
        untyped=None,
    ) -> None:
        pass


def check(values: dict, target: Any = Model, **kwargs) -> dict:
    return check_section(
        values, target, section="model_args", source="configs/ram/mnist.yaml", **kwargs
    )


# check_section: keys


def test_unknown_key_names_file_section_owner_and_nearest_key():
    message = refusal(check, {"glimpse": 6}, owner="ram")
    assert message.startswith(
        "configs/ram/mnist.yaml: unknown key 'glimpse' in model_args of 'ram'"
    )
    assert "did you mean 'glimpses'?" in message
    assert "(known: glimpses, patch_size, location_std, core," in message


def test_every_unknown_key_of_a_section_is_named_at_once():
    message = refusal(check, {"glimpse": 6, "zzzz": 1, "patch_sise": 8}, owner="ram")
    assert message == (
        "configs/ram/mnist.yaml: 3 unknown keys: 'glimpse' in model_args of 'ram' (did you "
        "mean 'glimpses'?), 'zzzz' in model_args of 'ram', 'patch_sise' in model_args of "
        "'ram' (did you mean 'patch_size'?)"
    )


def test_unknown_keys_of_every_section_are_named_at_once(tmp_path):
    path = write(tmp_path, "model: ram\noptim: {lrr: 1}\ntrainer: {max_epoch: 3}\n")
    message = refusal(RunConfig.from_yaml, path)
    assert message == (
        f"{path}: 2 unknown keys: 'lrr' in optim (did you mean 'lr'?), 'max_epoch' in trainer "
        "(did you mean 'max_epochs'?)"
    )


def test_unknown_key_with_nothing_close_lists_the_known_keys():
    message = refusal(check, {"zzzz": 1})
    assert message.startswith("configs/ram/mnist.yaml: unknown key 'zzzz' in model_args (known:")
    assert "did you mean" not in message
    assert "untyped" in message  # every keyword parameter is a key


def test_a_target_taking_kwargs_accepts_any_key_unchecked():
    def build(*, size: int = 1, **extra: int) -> None: ...

    assert check({"size": 2, "other": "x"}, build) == {"size": 2, "other": "x"}
    assert "model_args.size must be an int" in refusal(check, {"size": "x"}, build)


def test_missing_required_keys_are_named_unless_skipped():
    def build(model: str, lr: float, *, beta: float = 0.9) -> None: ...

    message = refusal(check, {}, build)
    assert message == (
        "configs/ram/mnist.yaml: model_args is missing required keys 'model', 'lr' "
        "(no default); add them to model_args"
    )
    assert "missing required key 'lr' (no default)" in refusal(check, {}, build, skip={"model"})
    assert check({"lr": 1}, build, skip={"model"}) == {"lr": 1.0}


def test_a_skipped_key_set_in_the_section_is_refused():
    def build(*, lr: float = 1e-3, max_epochs: int = 100) -> None: ...

    message = refusal(check, {"max_epochs": 3}, build, skip={"max_epochs"})
    assert message.startswith("configs/ram/mnist.yaml: model_args.max_epochs cannot be set")
    assert "remove it" in message


def test_dataclasses_and_functions_are_targets_too():
    @dataclass
    class Settings:
        epochs: int = 1
        rate: float = 0.5

    assert check({"epochs": 2, "rate": 1}, Settings) == {"epochs": 2, "rate": 1.0}
    assert "did you mean 'epochs'?" in refusal(check, {"epoch": 2}, Settings)


def test_unresolvable_annotations_still_check_keys():
    def build(*, size: Undefined = 1) -> None: ...  # noqa: F821 (the point of the test)

    assert check({"size": "anything"}, build) == {"size": "anything"}
    assert "unknown key 'sise'" in refusal(check, {"sise": 1}, build)


def test_the_values_come_back_in_a_new_dict_in_order():
    values = {"location_std": 1, "glimpses": 3}
    checked = check(values)
    assert list(checked) == ["location_std", "glimpses"]
    assert type(checked["location_std"]) is float and values["location_std"] == 1


# check_section: types


@pytest.mark.parametrize("value", [6, 0, -2])
def test_an_int_is_an_int(value):
    assert check({"glimpses": value}) == {"glimpses": value}


@pytest.mark.parametrize(
    "value,shown",
    [
        ("six", "'six' (str)"),
        (True, "True (bool)"),
        (3.0, "3.0 (float)"),
        (None, "None (NoneType)"),
    ],
)
def test_anything_else_is_refused_where_an_int_is_wanted(value, shown):
    message = refusal(check, {"glimpses": value})
    assert message == f"configs/ram/mnist.yaml: model_args.glimpses must be an int, got {shown}"


def test_an_int_is_taken_and_made_a_float_where_a_float_is_wanted():
    checked = check({"location_std": 1})
    assert checked == {"location_std": 1.0} and type(checked["location_std"]) is float
    assert check({"location_std": 0.05}) == {"location_std": 0.05}


@pytest.mark.parametrize("value", [True, "small", [0.1]])
def test_a_float_is_not_a_bool_a_word_or_a_list(value):
    assert "model_args.location_std must be a float, got" in refusal(check, {"location_std": value})


def test_a_number_yaml_read_as_a_string_is_refused_with_the_way_to_write_it():
    message = refusal(check, {"location_std": "1e-3"})
    assert "model_args.location_std must be a float" in message
    assert "write 1.0e-3 or 0.001" in message and "got '1e-3' (str)" in message
    message = refusal(check, {"location_std": "0.5"})
    assert message.endswith("model_args.location_std must be a float, got '0.5' (str)")


def test_a_bool_is_true_or_false_not_a_number():
    assert check({"recurrent": True}) == {"recurrent": True}
    message = refusal(check, {"recurrent": 1})
    assert message.endswith("model_args.recurrent must be true or false, got 1 (int)")


def test_a_literal_names_the_allowed_values():
    assert check({"core": "lstm"}) == {"core": "lstm"}
    message = refusal(check, {"core": "gru"})
    assert message.endswith("model_args.core must be one of 'rnn', 'lstm', got 'gru' (str)")


def test_a_literal_value_must_match_in_type_as_well():
    assert check_value(1, Literal[1, 2], name="--n") == 1
    assert refusal(check_value, True, Literal[1, 2], name="--n") == (
        "--n must be one of 1, 2, got True (bool)"
    )


def test_optional_takes_null_or_the_type():
    assert check({"steps": None, "data_dir": None}) == {"steps": None, "data_dir": None}
    assert check_value(None, int | None, name="--threads") is None
    assert refusal(check_value, "two", int | None, name="--threads") == (
        "--threads must be an int or null, got 'two' (str)"
    )
    assert check_value(2, float | None, name="--clip") == 2.0


def test_a_path_is_a_string_or_a_path():
    assert check({"data_dir": "data/mnist"}) == {"data_dir": "data/mnist"}
    assert check({"data_dir": Path("data")}) == {"data_dir": Path("data")}
    assert check_value("x", Path, name="--out") == "x"
    assert refusal(check_value, 1, str | os.PathLike, name="--out") == (
        "--out must be a path (a string), got 1 (int)"
    )
    message = refusal(check, {"data_dir": 3})
    assert message.endswith("model_args.data_dir must be a path (a string) or null, got 3 (int)")


def test_a_union_keeps_a_value_its_first_matching_member_takes_unchanged():
    assert type(check_value(3, int | float, name="--x")) is int
    assert type(check_value(3, float | int, name="--x")) is int
    assert type(check_value(3, float | str, name="--x")) is float


def test_list_items_are_checked_and_converted():
    assert check({"steps": [1, 2]}) == {"steps": [1, 2]}
    assert refusal(check, {"steps": [1, "b"]}).endswith(
        "model_args.steps[1] must be an int, got 'b' (str)"
    )
    assert refusal(check, {"steps": 3}).endswith(
        "model_args.steps must be a list of ints or null, got 3 (int)"
    )
    assert check_value([1, 2.5], list[float], name="--x") == [1.0, 2.5]


def test_a_tuple_takes_a_yaml_list_of_its_length():
    checked = check({"sizes": [2, 3]})
    assert checked == {"sizes": [2, 3]} and type(checked["sizes"]) is list  # YAML can dump it
    assert refusal(check, {"sizes": [2, 3, 4]}).endswith(
        "model_args.sizes must be a list of 2 items (an int, an int), got [2, 3, 4] (list)"
    )
    assert check_value((1, 2, 3), tuple[float, ...], name="--x") == (1.0, 2.0, 3.0)


def test_a_dict_has_its_keys_and_values_checked():
    assert check({"weights": {"a": 1}}) == {"weights": {"a": 1.0}}
    assert refusal(check, {"weights": {"a": "x"}}).endswith(
        "model_args.weights.a must be a float, got 'x' (str)"
    )
    assert "must be a mapping of strings to floats or null, got [1] (list)" in refusal(
        check, {"weights": [1]}
    )
    assert check_value({"k": [1]}, dict, name="--x") == {"k": [1]}


def test_exotic_or_missing_annotations_accept_anything():
    tensor = torch.zeros(2)
    checked = check({"init": tensor, "anything": object, "untyped": [1, "a"]})
    assert checked["init"] is tensor and checked["untyped"] == [1, "a"]


def test_a_long_value_is_cut_to_keep_the_message_short():
    message = refusal(check, {"glimpses": "x" * 500})
    assert len(message) < 150 and "...' (str)" not in message and "... (str)" in message


def test_config_error_is_one_line_and_a_value_error():
    error = ConfigError("a.yaml: not valid YAML\n  in line 2\n")
    assert str(error) == "a.yaml: not valid YAML in line 2"
    assert isinstance(error, ValueError)


# RunConfig: reading files


def write(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "config.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


@pytest.mark.parametrize(
    "text,where,problem",
    [
        (
            "model: ram\nmodel_args: {glimpses: 6\ntrainer: {}\n",
            "(line 3, column 8)",
            "expected ','",
        ),
        ("model: ram\n  model_args: 1\n", "(line 2, column 13)", "mapping values are not allowed"),
        ("\tmodel: ram\n", "(line 1, column 1)", "found character '\\t'"),
    ],
)
def test_malformed_yaml_names_file_line_column_and_problem(tmp_path, text, where, problem):
    path = write(tmp_path, text)
    message = refusal(RunConfig.from_yaml, path)
    assert message.startswith(f"{path}: not valid YAML {where}: {problem}")


def test_a_file_that_is_not_text_is_refused(tmp_path):
    path = write(tmp_path, b"model: ram\n\xff\xfe")
    assert refusal(RunConfig.from_yaml, path).startswith(f"{path}: not UTF-8 text (byte 11)")


def test_a_missing_file_is_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="config file not found"):
        RunConfig.from_yaml(tmp_path / "none.yaml")


@pytest.mark.parametrize(
    "text,shown", [("- model\n- ram\n", "['model', 'ram'] (list)"), ("ram\n", "'ram' (str)")]
)
def test_a_config_must_be_a_mapping_of_sections(tmp_path, text, shown):
    path = write(tmp_path, text)
    assert refusal(RunConfig.from_yaml, path) == (
        f"{path}: a config must be a mapping of sections "
        f"(model, model_args, data, optim, trainer), got {shown}"
    )


def test_an_empty_file_is_the_default_config(tmp_path):
    assert RunConfig.from_yaml(write(tmp_path, "# nothing yet\n")) == RunConfig()


def test_an_unknown_section_names_the_nearest(tmp_path):
    path = write(tmp_path, "model: ram\nmodle_args: {glimpses: 2}\n")
    assert refusal(RunConfig.from_yaml, path) == (
        f"{path}: unknown section 'modle_args'; did you mean 'model_args'? "
        "(known: model, model_args, data, optim, trainer)"
    )
    message = refusal(RunConfig.from_dict, {"xyz": {}}, source="run.ckpt")
    assert message.startswith("run.ckpt: unknown section 'xyz' (known: model,")


def test_a_section_must_be_a_mapping(tmp_path):
    path = write(tmp_path, "model: ram\nmodel_args:\n  - glimpses\n")
    assert refusal(RunConfig.from_yaml, path) == (
        f"{path}: section 'model_args' must be a mapping (indented key: value lines), "
        "got ['glimpses'] (list)"
    )


def test_a_section_left_empty_is_an_empty_mapping(tmp_path):
    path = write(tmp_path, "model: draw\ntrainer:\n  # max_epochs: 3\n")
    config = RunConfig.from_yaml(path)
    assert config.model == "draw" and config.trainer == {}


@pytest.mark.parametrize(
    "value,shown", [("6", "6 (int)"), ("", "None (NoneType)"), ("[ram]", "['ram'] (list)")]
)
def test_the_model_must_be_a_name(tmp_path, value, shown):
    path = write(tmp_path, f"model: {value}\n")
    assert refusal(RunConfig.from_yaml, path) == (
        f"{path}: model must be a registered model name (a string, e.g. ram), got {shown}"
    )


def test_the_trainer_section_is_checked_when_the_file_is_read(tmp_path):
    path = write(tmp_path, "trainer:\n  max_epoch: 3\n")
    message = refusal(RunConfig.from_yaml, path)
    assert message.startswith(
        f"{path}: unknown key 'max_epoch' in trainer; did you mean 'max_epochs'?"
    )
    path = write(tmp_path, "trainer:\n  devices: two\n")
    assert refusal(RunConfig.from_yaml, path) == (
        f"{path}: trainer.devices must be an int, got 'two' (str)"
    )
    path = write(tmp_path, "trainer:\n  devices: 0\n")
    assert (
        refusal(RunConfig.from_yaml, path) == f"{path}: trainer.devices must be at least 1, got 0"
    )


def test_a_read_config_round_trips_through_its_record(tmp_path):
    config = RunConfig.from_yaml(write(tmp_path, "model: ram\ntrainer: {max_minutes: 80}\n"))
    assert config.trainer == {"max_minutes": 80.0}
    config.to_yaml(tmp_path / "saved.yaml")
    assert RunConfig.from_yaml(tmp_path / "saved.yaml") == config


# TrainerSettings


def test_unknown_trainer_keys_are_a_config_error_not_a_type_error():
    message = refusal(RunConfig(trainer={"max_epoch": 3}).trainer_settings)
    assert message.startswith(
        "config: unknown key 'max_epoch' in trainer; did you mean 'max_epochs'?"
    )


def test_trainer_settings_are_typed_and_defaulted():
    settings = RunConfig(trainer={"max_minutes": 80, "devices": 2}).trainer_settings()
    assert settings.max_minutes == 80.0 and type(settings.max_minutes) is float
    assert settings.devices == 2 and settings.accelerator == "auto" and settings.num_nodes == 1
    assert settings.precision == "32-true"


@pytest.mark.parametrize(
    "key,value,message",
    [
        ("max_epochs", 0, "--max-epochs must be at least 1, got 0"),
        ("devices", "2", "--devices must be an int, got '2' (str)"),
        ("progress_bar", "no", "--progress-bar must be true or false, got 'no' (str)"),
        ("devices", 0, "--devices must be at least 1, got 0"),
        ("num_nodes", 0, "--num-nodes must be at least 1, got 0"),
        (
            "checkpoint_every_n_steps",
            -1,
            "--checkpoint-every-n-steps must be at least 0 (0: only at the end of each epoch), got -1",
        ),
        ("max_minutes", 0, "--max-minutes must be positive (or left out for no limit), got 0.0"),
        (
            "max_minutes",
            math.inf,
            "--max-minutes must be positive (or left out for no limit), got inf",
        ),
        (
            "max_minutes",
            math.nan,
            "--max-minutes must be positive (or left out for no limit), got nan",
        ),
        (
            "limit_train_batches",
            0,
            "--limit-train-batches must be at least 1 (or left out for all batches), got 0",
        ),
        (
            "limit_eval_batches",
            0,
            "--limit-eval-batches must be at least 1 (or left out for all batches), got 0",
        ),
        ("threads", 0, "--threads must be at least 1 (or left out for torch's default), got 0"),
        (
            "gradient_clip_val",
            -1.0,
            "--gradient-clip-val must be positive (or left out for no clipping), got -1.0",
        ),
        (
            "precision",
            "16-true",
            "--precision must be one of '32-true', 'bf16-mixed', '16-mixed', got '16-true' (str)",
        ),
        (
            "accelerator",
            "tpu",
            "--accelerator must be one of 'auto', 'cpu', 'gpu', 'mps', got 'tpu' (str)",
        ),
    ],
)
def test_impossible_trainer_settings_name_the_flag(key, value, message):
    assert refusal(RunConfig(trainer={key: value}).trainer_settings) == message
    assert refusal(TrainerSettings(**{key: value}).check) == message


def test_impossible_trainer_settings_in_a_file_name_the_file_and_key(tmp_path):
    path = write(tmp_path, "trainer:\n  threads: 0\n")
    assert refusal(RunConfig.from_yaml, path) == (
        f"{path}: trainer.threads must be at least 1 (or left out for torch's default), got 0"
    )


def test_float16_needs_a_gpu():
    config = RunConfig(trainer={"precision": "16-mixed", "accelerator": "cpu"})
    assert refusal(config.trainer_settings) == (
        "--precision 16-mixed needs a GPU; use bf16-mixed on a CPU (accelerator is 'cpu')"
    )
    for accelerator in ("gpu", "auto"):
        settings = RunConfig(trainer={"precision": "16-mixed", "accelerator": accelerator})
        assert settings.trainer_settings().precision == "16-mixed"


def test_limits_at_their_edges_are_accepted():
    edges = {
        "checkpoint_every_n_steps": 0,
        "max_minutes": 0.5,
        "limit_train_batches": 1,
        "limit_eval_batches": 1,
        "threads": 1,
        "gradient_clip_val": 1e-6,
        "num_nodes": 2,
    }
    assert RunConfig(trainer=edges).trainer_settings() == TrainerSettings(**edges)


def test_a_flag_override_is_checked_after_the_file():
    config = RunConfig.from_dict({"trainer": {"devices": 2}}).updated({"trainer": {"devices": 0}})
    assert refusal(config.trainer_settings) == "--devices must be at least 1, got 0"


# The configs shipped in configs/


def test_there_are_configs_to_check():
    assert len(CONFIGS) >= 5


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_shipped_config_reads_and_its_trainer_section_checks(path):
    config = RunConfig.from_yaml(path)
    assert isinstance(config.model, str)
    check_section(config.trainer, TrainerSettings, section="trainer", source=str(path))
    config.trainer_settings()
