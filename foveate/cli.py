"""The ``foveate`` command line: train, eval, show, list.

Training flags are generated from the typed ``__init__`` signatures that make up a run's config
(the model's, its data source's, its training module's, all named by the model's registry entry,
and ``TrainerSettings``), so every setting of a YAML config can be overridden by a flag of the
same name: ``patch_size`` in ``model_args`` is ``--patch-size``. Nothing here knows a model.

Errors a user can make (a bad config, flag or checkpoint, missing data, a run directory in use,
a diverging run) end in one line, ``foveate: error: ...``, and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import inspect
import json
import logging
import sys
import types
import typing
from pathlib import Path
from typing import Any, NamedTuple, get_args, get_origin

from lightning.fabric.utilities.exceptions import MisconfigurationException

from foveate.data.mnist import DownloadError
from foveate.data.tasks import TASKS
from foveate.training.divergence import TrainingDiverged


def _flag_type(annotation: Any) -> dict[str, Any]:
    """argparse keywords for a parameter's type annotation."""
    args = [a for a in get_args(annotation) if a is not type(None)]
    origin = get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return _flag_type(args[0])  # X | None, or str | PathLike: a flag of the first type
    if origin is typing.Literal:
        return {"choices": list(args), "type": type(args[0])}
    if annotation is bool:
        return {"action": argparse.BooleanOptionalAction}
    if annotation in (int, float, str):
        return {"type": annotation}
    if origin in (list, tuple):
        return {"type": _list_flag, "metavar": "A,B,..."}
    return {"type": str}


def _list_flag(text: str) -> list[Any]:
    """A list-valued flag, written '0,1,3' or as YAML ('[0, 1, 3]'); the schema checks its
    items' types as it does a config file's."""
    import yaml

    try:
        value = yaml.safe_load(text if text.lstrip().startswith("[") else f"[{text}]")
    except yaml.YAMLError:
        raise argparse.ArgumentTypeError(f"not a list: {text!r} (write it as 0,1,3)") from None
    if not isinstance(value, list):
        raise argparse.ArgumentTypeError(f"not a list: {text!r} (write it as 0,1,3)")
    return value


class FlagError(ValueError):
    """A flag argparse could not read (a mistyped value, an unknown choice, a missing argument)."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a flag it cannot read ends in one line, the problem and where the flags are
    listed, instead of the whole usage (some forty lines for ``train``) above it."""

    def error(self, message: str) -> typing.NoReturn:
        raise FlagError(f"{message} (see {self.prog} --help)")


def _model_name(text: str) -> str:
    """A registered model's name, as a flag's type: a mistyped one is refused with the nearest
    name (``RAM``: did you mean 'ram'?), not argparse's list of every choice."""
    from foveate.models import MODELS

    try:
        MODELS[text]
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


class _Setting(NamedTuple):
    """A setting of a config section, as its flag needs it: its type annotation, and its help
    (the docstring's entry for it, and its default)."""

    annotation: Any
    help: str


def _section_parameters(target: Any, skip: tuple[str, ...] = ()) -> dict[str, _Setting]:
    """name -> setting for the keyword parameters of a class or function (a class's bases'
    too, where it passes ``**kwargs`` on), less ``skip`` (arguments the harness fills in
    itself). An unannotated parameter takes its default's type; the help is what the
    docstrings say of it (``foveate.docstrings``)."""
    from foveate.docstrings import parameter_help
    from foveate.training.schema import signature_of

    signature, hints = signature_of(target)
    described = parameter_help(target)
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    parameters = {}
    for name, parameter in signature.items():
        if name in skip or name == "self" or parameter.kind not in kinds:
            continue
        default = parameter.default
        guess = str if default is inspect.Parameter.empty or default is None else type(default)
        said = described.get(name, "")
        if default is not inspect.Parameter.empty and default is not None:
            said += f" [default: {_show_default(default)}]"
        parameters[name] = _Setting(hints.get(name, guess), said.strip())
    return parameters


def _show_default(value: Any) -> str:
    """A default as its flag is typed: 0,1,2 for a list, true/false as YAML writes them."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return str(value)


def _sections(model: str) -> dict[str, dict[str, _Setting]]:
    from foveate.models import model_entry
    from foveate.training.config import TrainerSettings
    from foveate.training.fit import HARNESS_ARGS, data_source_class, training_module_class

    entry = model_entry(model)
    return {
        # What the registered name fixes (DAIR's difference) is no flag of it.
        "model_args": _section_parameters(entry.cls, skip=tuple(entry.fixed)),
        "data": _section_parameters(data_source_class(model)),
        "optim": _section_parameters(training_module_class(model), skip=HARNESS_ARGS),
        "trainer": _section_parameters(TrainerSettings),
    }


def _add_section_flags(
    parser: argparse.ArgumentParser, sections: dict[str, dict[str, _Setting]]
) -> None:
    """One flag per setting, its help the docstring's entry. A name that two sections share (a
    model's ``size`` and its data's) is one concept with one name: its flag sets it in both
    (dest ``model_args+data.size``)."""
    owners: dict[str, list[str]] = {}
    settings: dict[str, _Setting] = {}
    for section, params in sections.items():
        for name, setting in params.items():
            owners.setdefault(name, []).append(section)
            settings.setdefault(name, setting)
    groups = {
        section: parser.add_argument_group(f"{section} (override the config file)")
        for section in sections
    }
    for name, where in owners.items():
        kind = _flag_type(settings[name].annotation)
        if "type" in kind and "choices" not in kind:
            kind["metavar"] = name.upper()
        said = settings[name].help
        if len(where) > 1:
            said += f" (also sets {', '.join(where[1:])})"
        groups[where[0]].add_argument(
            "--" + name.replace("_", "-"),
            dest=f"{'+'.join(where)}.{name}",
            default=argparse.SUPPRESS,
            help=said.replace("%", "%%"),  # argparse formats help with %
            **kind,
        )


def _overrides(namespace: argparse.Namespace) -> dict[str, dict[str, Any]]:
    overrides: dict[str, dict[str, Any]] = {}
    for key, value in vars(namespace).items():
        if "." in key:
            sections, name = key.split(".", 1)
            for section in sections.split("+"):
                overrides.setdefault(section, {})[name] = value
    return overrides


def cmd_train(argv: list[str]) -> int:
    from foveate.models import list_models

    head = _Parser(prog="foveate train", add_help=False)
    head.add_argument("model", nargs="?")
    head.add_argument("--config", type=Path)
    known, _ = head.parse_known_args(argv)
    model = known.model if known.model in list_models() else None
    if model is None and known.config is not None and known.config.is_file():
        from foveate.training.config import RunConfig

        model = RunConfig.from_yaml(known.config).model  # the flags of the config's model
    model = model if model in list_models() else "ram"

    from foveate.models import model_entry

    source = model_entry(model).cls.__module__.replace(".", "/") + ".py"
    parser = _Parser(
        prog="foveate train",
        description="Train a model; flags override the config file, which overrides defaults.",
        epilog=f"Each flag's help is its docstring's entry; [1], [2], ... in those of "
        f"{model}'s model are the papers cited at the top of {source}.",
    )
    parser.add_argument(
        "model",
        type=_model_name,
        metavar="MODEL",
        help=f"registered model name: {', '.join(list_models())}",
    )
    parser.add_argument("--config", type=Path, help="YAML config (see configs/)")
    parser.add_argument("--run-dir", type=Path, help="where checkpoints and logs go")
    parser.add_argument(
        "--resume", action="store_true", help="continue the run in --run-dir from its last.ckpt"
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the run already in --run-dir (without it, that is refused)",
    )
    _add_section_flags(parser, _sections(model))
    args = parser.parse_args(argv)

    from foveate.training.config import RunConfig
    from foveate.training.fit import train_and_test

    if args.resume and args.overwrite:
        parser.error("--resume continues a run and --overwrite replaces it: choose one")
    if args.resume:
        if args.run_dir is None:
            parser.error("--resume needs the --run-dir of the run to continue")
        config = RunConfig.from_yaml(args.run_dir / "config.yaml")
    elif args.config:
        config = RunConfig.from_yaml(args.config)
        if "model" in config.as_dict() and config.model != args.model:
            raise ValueError(
                f"{args.config} is a config of {config.model!r}, not {args.model!r}: "
                f"foveate train {config.model} --config {args.config}"
            )
    else:
        config = RunConfig(model=args.model)
    config.model = args.model
    config = config.updated(_overrides(args))
    run_dir = args.run_dir or Path("runs") / f"{args.model}-{config.data.get('task', 'mnist')}"
    from foveate.reports.tensorboard_figures import figure_callbacks

    summary = train_and_test(
        config,
        run_dir,
        resume=args.resume,
        overwrite=args.overwrite,
        callbacks=figure_callbacks(config),  # with --logger tensorboard, the model's figures
    )
    if summary:
        speed = summary["train_images_per_s"]
        print(f"{summary['summary']}; {speed:.0f} training images/s; run in {run_dir}")
    return 0


def cmd_eval(argv: list[str]) -> int:
    parser = _Parser(
        prog="foveate eval",
        description="Test metrics of a checkpoint or a pretrained model (error, or likelihood).",
    )
    parser.add_argument(
        "checkpoint", help="a .ckpt file, a .safetensors weights file, or a pretrained model's name"
    )
    parser.add_argument(
        "--eval-samples",
        type=int,
        help="M, glimpse paths averaged per image (classifiers); K, importance samples "
        "(generative models); default: the run's own eval_samples",
    )
    parser.add_argument("--data-dir", help="the dataset's directory, if not the run's")
    parser.add_argument(
        "--accelerator", choices=["auto", "cpu", "gpu", "mps"], default="auto", help="where to test"
    )
    parser.add_argument(
        "--limit-batches",
        type=int,
        metavar="N",
        help="test on the first N batches only, a quick check (default: the whole test set)",
    )
    args = parser.parse_args(argv)
    if args.limit_batches is not None and args.limit_batches < 1:
        parser.error(f"--limit-batches must be at least 1, got {args.limit_batches}")
    from foveate.bench.pretrained import resolve
    from foveate.training.fit import evaluate

    args.checkpoint = resolve(args.checkpoint)
    overrides = {"data_dir": args.data_dir} if args.data_dir else {}
    result = evaluate(
        args.checkpoint,
        eval_samples=args.eval_samples,
        data_overrides=overrides,
        accelerator=args.accelerator,
        limit_batches=args.limit_batches,
    )
    print(json.dumps({k: v for k, v in result.items() if k != "summary"}))
    print(result["summary"])
    return 0


def cmd_show(argv: list[str]) -> int:
    parser = _Parser(
        prog="foveate show",
        description="Figures of a checkpoint, for whatever its model offers (where it looked, what it drew, how it decomposed a scene, how it read, how it played).",
    )
    parser.add_argument(
        "checkpoint", help="a .ckpt file, a .safetensors weights file, or a pretrained model's name"
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="output directory (default: the run's figures/; for weights, figures/<name>)",
    )
    parser.add_argument("--images", type=int, default=8, help="test images in the grid")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", help="the dataset's directory, if not the run's")
    parser.add_argument(
        "--every-window",
        action="store_true",
        help="draw every window of each glimpse (a retina's coarser scales), not only the finest",
    )
    parser.add_argument(
        "--empty-scenes",
        action="store_true",
        help="scene models: also show test scenes with no object (default: scenes with one or more)",
    )
    args = parser.parse_args(argv)
    from foveate.bench.pretrained import resolve
    from foveate.reports.show import show_checkpoint

    given = args.checkpoint
    args.checkpoint = resolve(given)
    if args.out is not None:
        out = args.out
    elif args.checkpoint.suffix == ".safetensors":
        out = Path("figures") / given.replace("/", "_").removesuffix(".safetensors")
    else:
        out = args.checkpoint.resolve().parent.parent / "figures"
    overrides = {"data_dir": args.data_dir} if args.data_dir else {}
    paths = show_checkpoint(
        args.checkpoint,
        out,
        images=args.images,
        seed=args.seed,
        data_overrides=overrides,
        every_window=args.every_window,
        empty_scenes=args.empty_scenes,
    )
    for path in paths:
        print(path)
    return 0


def cmd_list(argv: list[str]) -> int:
    parser = _Parser(
        prog="foveate list", description="What foveate has: models, tasks, datasets, games."
    )
    parser.add_argument(
        "--pretrained",
        action="store_true",
        help="the pretrained models: name, the record's figure, size, record",
    )
    args = parser.parse_args(argv)
    if args.pretrained:
        from foveate.bench.pretrained import describe, read_manifest

        for entry in read_manifest().values():
            said = describe(entry)
            print(
                f"{said['name']:32s} {said['figure']:40s} {said['megabytes']:5.1f} MB  {said['record']}"
            )
        return 0
    from foveate.data.datasets import DATASETS
    from foveate.data.games import GAMES
    from foveate.models import list_models

    print("models:  ", " ".join(list_models()))
    print("tasks:   ", " ".join(TASKS))
    print("datasets:", " ".join(DATASETS))
    print("games:   ", " ".join(GAMES.names()))
    return 0


def cmd_bench(argv: list[str]) -> int:
    from foveate.bench.cli import main as bench

    return bench(argv)


RUN_HELP = "a run directory, a run's checkpoint, or a pretrained model's name (air/multimnist)"


def cmd_report(argv: list[str]) -> int:
    parser = _Parser(
        prog="foveate report",
        description="A static HTML page of runs (config, learning curves, the figures of "
        "'foveate show', a comparison), or with --zoo a gallery of every pretrained model. "
        "It opens from file:// and fetches nothing.",
    )
    parser.add_argument("runs", nargs="*", metavar="RUN", help=RUN_HELP)
    parser.add_argument(
        "--zoo", action="store_true", help="the gallery of every pretrained model instead"
    )
    parser.add_argument(
        "--out", type=Path, required=True, help="the folder for index.html and its pictures"
    )
    parser.add_argument("--images", type=int, default=8, help="test images in each figure")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", help="the dataset's directory, if not the runs'")
    parser.add_argument(
        "--sample", action="store_true", help="figures from the MNIST sample shipped in foveate"
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="then load the pages in headless Chromium: every picture loads, no console message",
    )
    parser.add_argument(
        "--screenshot", type=Path, metavar="PNG", help="then a 1200x1600 PNG of the page"
    )
    args = parser.parse_args(argv)
    if args.zoo == bool(args.runs):
        parser.error("name the runs to report, or --zoo for the gallery (not both)")
    from foveate.bench.zoo_page import report_source, write_gallery
    from foveate.reports import browser
    from foveate.reports.report_page import PAGE, write_report

    overrides = {"data_dir": args.data_dir} if args.data_dir else {}
    overrides |= {"sample": True} if args.sample else {}
    shown = {"images": args.images, "seed": args.seed, "data_overrides": overrides}
    if args.zoo:
        page = write_gallery(args.out, **shown)
    else:
        page = write_report([report_source(run) for run in args.runs], args.out, **shown).page
    print(page)
    if args.check:
        for written in sorted(args.out.rglob(PAGE)):
            verdict = browser.check_page(written)
            if not verdict.ok:
                raise ValueError(f"{written}: {verdict.problems()}")
            print(f"{written}: {verdict.images} pictures loaded in headless Chromium, no errors")
    if args.screenshot:
        print(browser.screenshot(page, args.screenshot))
    return 0


def cmd_compare(argv: list[str]) -> int:
    parser = _Parser(
        prog="foveate compare",
        description="Runs' final and best figures side by side (foveate report's table).",
    )
    parser.add_argument("runs", nargs="+", metavar="RUN", help=RUN_HELP)
    args = parser.parse_args(argv)
    from foveate.bench.zoo_page import report_source
    from foveate.reports.comparison import compare

    print(compare([report_source(run) for run in args.runs]).text())
    return 0


COMMANDS = {
    "train": cmd_train,
    "eval": cmd_eval,
    "show": cmd_show,
    "list": cmd_list,
    "bench": cmd_bench,
    "report": cmd_report,
    "compare": cmd_compare,
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        print(
            "usage: foveate {train,eval,show,list,bench,report,compare} ...\n\n"
            "  train MODEL   train a model (foveate train ram --task mnist)\n"
            "  eval CKPT     test metrics of a checkpoint\n"
            "  show CKPT     figures: where it looked and what it saw, or what it draws\n"
            "  list          registered models, tasks, datasets and games\n"
            "  bench NAME    run a benchmark and write its record (foveate bench --list)\n"
            "  report RUN... a static HTML page: config, curves, figures (--zoo: the gallery)\n"
            "  compare RUN.. runs' final and best figures side by side",
            file=sys.stderr if argv and argv[0] not in ("-h", "--help") else sys.stdout,
        )
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    # Lightning's INFO lines (tips, "GPU available: False") drown the run's own output. Its
    # import sets its loggers' level, so it is imported first.
    import lightning.pytorch  # noqa: F401

    for name in ("lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        return COMMANDS[argv[0]](argv[1:])
    except (
        ValueError,  # bad configs, flags and checkpoints (ConfigError, CheckpointError)
        OSError,  # missing files, a run directory in use (RunExistsError)
        DownloadError,
        TrainingDiverged,
        MisconfigurationException,  # what Lightning refuses that foveate did not foresee
    ) as error:
        # One line, not a traceback.
        message = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        print(f"foveate: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
