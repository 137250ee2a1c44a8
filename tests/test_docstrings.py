"""Every setting is documented where it is defined, and ``foveate train MODEL --help`` shows it."""

import argparse

import pytest

from foveate.cli import _add_section_flags, _sections, main
from foveate.docstrings import parameter_help, parse_entries, undocumented
from foveate.models import list_models, model_entry
from foveate.training.config import TrainerSettings
from foveate.training.fit import HARNESS_ARGS, data_source_class, training_module_class
from foveate.training.schema import signature_of

DOC = """Something.

    A paragraph: with a colon, which is no entry.

    Args:
        glimpses: T, glimpses
            per image.
        what_size, where_size: units of h_g and h_l.

    Alternatives, under a heading of their own:
        core: 'rnn' or
            'lstm'.
        glimpses: a second entry for a name; the first wins.
        empty:
    """


def test_entries_are_read_with_their_continuations_and_shared_names():
    entries = parse_entries(DOC)
    assert entries["glimpses"] == "T, glimpses per image."
    assert entries["what_size"] == entries["where_size"] == "units of h_g and h_l."
    assert entries["core"] == "'rnn' or 'lstm'."
    assert "empty" not in entries  # a name with nothing said of it is not documented
    assert parse_entries(None) == {}


def test_a_subclass_passes_on_its_bases_entries_and_its_own_come_first():
    class Base:
        """Args:
        lr: the base's learning rate.
        beta1: Adam's first moment.
        """

    class Child(Base):
        """Args:
        lr: the child's learning rate.
        """

    assert parameter_help(Child) == {
        "lr": "the child's learning rate.",
        "beta1": "Adam's first moment.",
    }
    assert undocumented(Child, ["lr", "beta1", "gamma"]) == ["gamma"]


def _settings(model: str):
    """(section, class, the keyword parameters the section sets) of a registered model."""
    entry = model_entry(model)
    targets = {
        "model_args": (entry.cls, tuple(entry.fixed)),
        "data": (data_source_class(model), ()),
        "optim": (training_module_class(model), HARNESS_ARGS),
        "trainer": (TrainerSettings, ()),
    }
    for section, (cls, skip) in targets.items():
        parameters, _ = signature_of(cls)
        keyword = [n for n, p in parameters.items() if p.kind != p.VAR_KEYWORD]
        yield section, cls, [n for n in keyword if n not in skip]


@pytest.mark.parametrize("model", list_models())
def test_every_setting_of_every_registered_model_is_documented(model):
    for section, cls, names in _settings(model):
        assert names
        assert undocumented(cls, names) == [], f"{model}: {section} of {cls.__name__}"


def _flag_help(model: str) -> dict[str, str]:
    parser = argparse.ArgumentParser()
    _add_section_flags(parser, _sections(model))
    return {a.option_strings[0]: a.help for a in parser._actions if a.option_strings[0] != "-h"}


@pytest.mark.parametrize("model", ["ram", "stn", "air", "draw", "infogan"])
def test_every_flag_of_train_help_says_what_it_sets(model, capsys):
    flags = _flag_help(model)
    assert len(flags) > 20
    for flag, said in flags.items():
        described = said.split(" [default:")[0].strip()
        assert described, f"foveate train {model} --help: {flag} has no description"
    with pytest.raises(SystemExit):
        main(["train", model, "--help"])
    printed = " ".join(capsys.readouterr().out.split())  # argparse wraps the lines
    assert "seeds model initialisation, training canvases and glimpse sampling." in printed
    assert "validation and test batch size. [default:" in printed


def test_ram_help_shows_the_docstring_entry_and_the_default(capsys):
    with pytest.raises(SystemExit):
        main(["train", "ram", "--help"])
    printed = " ".join(capsys.readouterr().out.split())
    assert "--glimpses GLIMPSES T, glimpses per image ([1]: 6 or 7 on MNIST" in printed
    assert "[default: 6]" in printed
