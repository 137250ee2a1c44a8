"""Convert the records written before the runner (benchmarks/results/) to the runner's schema.

    python benchmarks/convert_records.py

A one-off, re-runnable: it reads the old files from git at ``SOURCE`` (the last commit that
holds them all), so a second run, after benchmarks/results/ is gone, writes the same files.

- benchmarks/records/headline/<spec>.json for every spec of benchmarks/specs whose figure an
  old record holds, in exactly the runner's schema (``foveate.bench.runner.build_record``): one
  entry per seed (from the per-seed files where the old script kept them), each with the runner
  command that reproduces it, the old machine, date and the commit that last wrote the old file;
  the old record's config, checked against the spec's with ``same_run``; and a ``converted``
  block (the old paths, commands, commit and metrics, and ``differs``: how the old config
  differs from the spec's, None where it does not).
- benchmarks/records/probes/<old stem>.json for every other old record (and the records kept
  under logs/: the RAM probes, hit distances and Catch misses), ``kind: probe``, its metrics
  under their old names.
- benchmarks/records/logs/: the raw files (metrics.csv, logs, per-seed results), moved.

Then it removes the old files and writes each one's new path to /tmp/record_paths.tsv (old and
new path, tab-separated, relative to the repository). A headline record the runner wrote (one
without ``converted``) is never overwritten.
"""

from __future__ import annotations

import copy
import datetime
import functools
import json
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from common import first_sentence, flat_numbers, is_number, paper_figure

from foveate.bench.evaluations import numbers
from foveate.bench.record import SCHEMA, check_record, write_record
from foveate.bench.runner import Invocation, build_record, config_differences
from foveate.bench.spec import load_specs
from foveate.training.config import RunConfig
from foveate.training.fit import training_module_class

ROOT = Path(__file__).resolve().parents[1]
# The last commit holding every old file of benchmarks/results/ as it was last written.
SOURCE = "73063e9c4f58ec844944291de0ed9c673c7b60d1"
OLD = "benchmarks/results"
RECORDS = "benchmarks/records"
BY = "python benchmarks/convert_records.py"
MAPPING = Path("/tmp/record_paths.tsv")
EVALUATED = ("test_error_pct_M10", "hit_rate_pct", "hit_rate_right_pct", "hit_rate_wrong_pct")
# Records under logs/ that are records, not raw files: (folder, prefix of the probe's name).
LOG_RECORDS = {
    "ram_probes": "",
    "ram_hit_distance": "ram_hit_distance_",
    "catch_misses": "catch_misses_",
}
# Headline-like records that no spec measures yet.
NO_SPEC = {
    "air_omniglot",
    "air_omniglot_parts",
    "air_representation",
    "cnn_cluttered100",
    "cnn_cluttered60",
    "cnn_mnist",
    "cnn_translated",
    "deletion",
    "fc_cluttered100",
    "fc_cluttered60",
    "fc_mnist",
    "fc_translated",
    "ram_cluttered100_8g_160min",
    "ram_cost",
    "ram_mnist",
    "ram_mnist_speed",
    "ram_time_to_accuracy",
}
SPECS = load_specs(ROOT)


# --- the old files, from git ---------------------------------------------------------------


def git(*args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=True
    ).stdout


@functools.cache
def blob(path: str) -> bytes:
    return subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{SOURCE}:{path}"], capture_output=True, check=True
    ).stdout


def old_json(path: str) -> dict[str, Any]:
    return json.loads(blob(path))


def old_yaml(path: str) -> dict[str, Any]:
    return yaml.safe_load(blob(path))


@functools.cache
def old_files() -> tuple[str, ...]:
    return tuple(sorted(git("ls-tree", "-r", "--name-only", SOURCE, "--", OLD).split()))


@functools.cache
def last_commit(path: str) -> str:
    """The commit that last wrote ``path`` (as of SOURCE)."""
    return git("log", "-1", "--format=%H", SOURCE, "--", path).strip()


@functools.cache
def commit_date(commit: str) -> str:
    stamp = datetime.datetime.fromisoformat(git("show", "-s", "--format=%aI", commit).strip())
    return stamp.astimezone(datetime.timezone.utc).isoformat(timespec="seconds")


def git_of(path: str) -> dict[str, Any]:
    return {"commit": last_commit(path), "dirty": None}


def script_of(command: str) -> str:
    """The benchmark script an old command ran: 'benchmarks/<name>.py'."""
    for word in shlex.split(command):
        if word.endswith(".py"):
            return f"benchmarks/{Path(word).name}"
    raise ValueError(f"no script in {command!r}")


def flag(command: str, name: str) -> str | None:
    words = shlex.split(command)
    return words[words.index(name) + 1] if name in words else None


# --- headline records ----------------------------------------------------------------------


def data_dir(old: str | None) -> str | None:
    """An old run's data directory as the runner, started in the repository, names it."""
    if old is None:
        return None
    return f"../shared/data/{Path(old).name}" if "shared/data" in old else old


def invocation_for(config: dict[str, Any]) -> Invocation:
    return Invocation(
        data_dir=data_dir(config.get("data", {}).get("data_dir")),
        threads=config.get("trainer", {}).get("threads"),
    )


def best_val(model: str, metrics: dict[str, float], renamed: list[str]) -> dict[str, float]:
    """``metrics`` with the best validation figure named as the model's training module now
    names it: an error the module has since turned into an accuracy becomes 100 less it."""
    wanted = "best_" + training_module_class(model).monitor
    out = {}
    for key, value in metrics.items():
        flipped = key.replace("_error_", "_accuracy_")
        if key.startswith("best_val") and key != wanted and flipped == wanted:
            out[wanted] = round(100 - value, 4)
            renamed.append(f"{key} {value:g} -> {wanted} {out[wanted]:g} (100 less it)")
        else:
            out[key] = value
    return out


def runner_metrics(
    model: str, measured: dict[str, Any], renamed: list[str], evaluated: tuple[str, ...] = ()
) -> dict[str, float]:
    """A seed's metrics as the runner names them: the test and best-validation figures, epochs
    and throughput, then the spec's evaluations'."""
    tested = {
        k: v
        for k, v in measured.items()
        if k.startswith(("test_", "best_val")) and k not in evaluated and is_number(v)
    }
    metrics = best_val(model, numbers(tested), renamed)
    metrics["epochs"] = measured["epochs"]
    metrics["train_images_per_s"] = round(measured["train_images_per_s"], 1)
    metrics.update(numbers({k: measured[k] for k in evaluated}))
    return metrics


def seed_entry(
    name: str,
    seed: int,
    metrics: dict[str, float],
    *,
    invocation: Invocation,
    wall_s: float,
    old: dict[str, Any],
    path: str,
    resumed: bool | None = None,
    summary: str | None = None,
) -> dict[str, Any]:
    return {
        "seed": seed,
        "command": invocation.command(name, (seed,)),
        "metrics": metrics,
        "wall_s": round(wall_s, 1),
        "machine": old["machine"],
        "date": old["date"],
        "git": git_of(path),
        "resumed": resumed,
        "summary": summary,
    }


def differences(spec_config: RunConfig, old: RunConfig) -> str | None:
    """Every setting in which ``old`` differs from the spec's config in what it measures (as the
    runner judges, ``config_differences``); None where it does not."""
    return "; ".join(config_differences(spec_config, old)) or None


def headline(
    name: str,
    seeds: list[dict[str, Any]],
    config: dict[str, Any],
    *,
    sources: list[str],
    old: dict[str, Any],
    note: list[str],
) -> dict[str, Any]:
    """The runner's record of ``name`` from converted seeds, with the old config and the
    conversion block."""
    spec = SPECS[name]
    config = copy.deepcopy(config)
    config.setdefault("trainer", {})["seed"] = 0
    saved = RunConfig.from_dict(config, source=sources[0])
    record = build_record(spec, "headline", name, seeds, saved, invocation_for(config))
    record["config"] = config
    record["converted"] = {
        "from": sources,
        "by": BY,
        "script": script_of(old["command"]),
        "commands": [old["command"]],
        "commit": last_commit(sources[0]),
        "original_metrics": old["metrics"],
        "notes": old["notes"],
        "differs": differences(spec.run_config(ROOT), saved),
        "note": " ".join(note),
    }
    return record


def from_train_py(name: str) -> dict[str, Any]:
    """A benchmarks/train.py record: one seed, its metrics in the record itself."""
    path = f"{OLD}/{name}.json"
    old = old_json(path)
    config, renamed = old["config"], []
    metrics = runner_metrics(config["model"], old["metrics"], renamed)
    seed = seed_entry(
        name,
        old["seed"],
        metrics,
        invocation=invocation_for(config),
        wall_s=old["wall_s"],
        old=old,
        path=path,
        resumed="--resume" in shlex.split(old["command"]),
    )
    note = ["One seed, from the record itself (benchmarks/train.py kept no per-seed file)."]
    note += [f"Renamed: {r}." for r in renamed]
    note.append("Dropped from the metrics: the aliases train.py wrote beside them and wall_s.")
    return headline(name, [seed], config, sources=[path], old=old, note=note)


def from_ram_row(name: str) -> dict[str, Any]:
    """A benchmarks/ram_row.py record: each seed from logs/ram_rows/ram_<row>_seed<k>.json."""
    path = f"{OLD}/{name}.json"
    old = old_json(path)
    config, renamed, seeds, sources = old["config"], [], [], [path]
    for k in old["metrics"]["seeds"]:
        seed_path = f"{OLD}/logs/ram_rows/{name}_seed{k}.json"
        kept = old_json(seed_path)
        sources.append(seed_path)
        evaluated = (*EVALUATED, "episode_error_pct")
        metrics = runner_metrics("ram", kept, renamed, evaluated)
        seeds.append(
            seed_entry(
                name,
                k,
                metrics,
                invocation=invocation_for(kept["config"]),
                wall_s=kept["wall_s"],
                old=old,
                path=seed_path,
                resumed=kept["resumed"],
            )
        )
    note = [
        "Each seed from its file in logs/ram_rows; machine and date are the old record's (the",
        "per-seed files kept neither). The config is the old record's (its last seed's), seed 0.",
    ]
    return headline(name, seeds, config, sources=sources, old=old, note=note)


def from_air_seeds(name: str) -> dict[str, Any]:
    """A benchmarks/air_seeds.py record: each seed from logs/<name>/seed-<k>.results.json."""
    path = f"{OLD}/{name}.json"
    old = old_json(path)
    listed = sorted(
        int(k.removeprefix("count_accuracy_pct_seed"))
        for k in old["metrics"]
        if k.startswith("count_accuracy_pct_seed")
    )
    config = old_yaml(f"{OLD}/logs/{name}/seed-{listed[0]}.config.yaml")
    renamed, seeds, sources = [], [], [path]
    for k in listed:
        seed_path = f"{OLD}/logs/{name}/seed-{k}.results.json"
        kept = old_json(seed_path)
        if (
            round(kept["test_count_accuracy_pct"], 2)
            != old["metrics"][f"count_accuracy_pct_seed{k}"]
        ):
            raise ValueError(f"{seed_path} does not hold the figure {path} gives seed {k}")
        sources.append(seed_path)
        metrics = runner_metrics(config["model"], kept, renamed)
        seeds.append(
            seed_entry(
                name,
                k,
                metrics,
                invocation=invocation_for(config),
                wall_s=kept["wall_s"],
                old=old,
                path=seed_path,
                summary=kept.get("summary"),
            )
        )
    sources.append(f"{OLD}/logs/{name}/seed-{listed[0]}.config.yaml")
    note = [
        f"Each seed from logs/{name}/seed-<k>.results.json; machine and date are the old",
        f"record's (the per-seed files kept neither). The config is seed {listed[0]}'s",
        "config.yaml kept beside them.",
    ]
    recorded = old["config"]["data"]
    for key in sorted(set(config["data"]) - set(recorded)):
        note.append(
            f"The old record's config lacks data.{key} (the run predates the setting, whose "
            f"default has changed since); the kept config.yaml names it: {config['data'][key]!r}."
        )
    return headline(name, seeds, config, sources=sources, old=old, note=note)


def from_generalisation(name: str, stem: str, run: str) -> dict[str, Any]:
    """One run of a benchmarks/air_generalisation.py record (logs/<stem>/<run>.results.json)."""
    path = f"{OLD}/{stem}.json"
    old = old_json(path)
    results, config_path = (
        f"{OLD}/logs/{stem}/{run}.results.json",
        f"{OLD}/logs/{stem}/{run}.config.yaml",
    )
    kept, config, renamed = old_json(results), old_yaml(config_path), []
    if round(kept["test_count_accuracy_pct"], 2) != old["metrics"][f"{run}_count_accuracy_pct"]:
        raise ValueError(f"{results} does not hold the figure {path} gives {run}")
    seed = seed_entry(
        name,
        old["seed"],
        runner_metrics(config["model"], kept, renamed),
        invocation=invocation_for(config),
        wall_s=kept["wall_s"],
        old=old,
        path=results,
        summary=kept.get("summary"),
    )
    others = sorted(
        {k.split("_count")[0].split("_train")[0] for k in old["metrics"]} - {run, "wall_s"}
    )
    note = [
        f"The {run} run of {path} (which also holds {', '.join(others)}), from its files in",
        f"logs/{stem}; machine and date are the old record's.",
    ]
    return headline(name, [seed], config, sources=[path, results, config_path], old=old, note=note)


def from_stn(name: str, task: str, model: str) -> dict[str, Any]:
    """The STN or its plain CNN from a benchmarks/stn.py record, which holds both."""
    path = f"{OLD}/stn_{task}.json"
    old = old_json(path)
    m, prefix = old["metrics"], "" if model == "stn" else "cnn_"
    measured = {
        "test_error_pct": m[prefix + "test_error_pct"],
        "best_val_error_pct": m[prefix + "best_val_error_pct"],
        "epochs": m[prefix + "epochs"],
        "train_images_per_s": m[prefix + "train_images_per_s"],
    }
    # stn.py: the record's wall_s sums both models' runs, the metrics' wall_s is the STN's.
    wall_s = m["wall_s"] if model == "stn" else old["wall_s"] - m["wall_s"]
    commit = last_commit(path)
    config = yaml.safe_load(git("show", f"{commit}:configs/{model}/{task}.yaml"))
    command = old["command"]
    config.setdefault("data", {})["data_dir"] = flag(command, "--data-dir")
    trainer = config.setdefault("trainer", {})
    trainer.update(
        seed=int(flag(command, "--seed") or 0), progress_bar="--no-progress" not in command
    )
    if flag(command, "--threads"):
        trainer["threads"] = int(flag(command, "--threads"))
    renamed: list[str] = []
    seed = seed_entry(
        name,
        old["seed"],
        runner_metrics(model, measured, renamed),
        invocation=invocation_for(config),
        wall_s=wall_s,
        old=old,
        path=path,
        resumed="--resume" in shlex.split(command),
    )
    note = [
        f"The {'STN' if model == 'stn' else 'plain CNN'} of {path}, which holds both models"
        + ("" if model == "stn" else " (its cnn_* metrics)")
        + ". The old record kept no config: this one is",
        f"configs/{model}/{task}.yaml as of {commit[:12]} (the commit that wrote the record) with",
        "the command's flags; the epochs run match its max_epochs.",
    ]
    if model == "cnn":
        note += [
            "wall_s: the old record's total less the STN's. Machine and date are the old",
            "record's; its notes say the CNN's result was read from the command's first run.",
        ]
    return headline(name, [seed], config, sources=[path], old=old, note=note)


# The specs there were when the old records were converted (commit 4540301): a spec added
# later (the deletion test's 10-epoch STN) has no old record; the runner writes its first.
CONVERTED_AT = "4540301"


def converted_specs() -> list[str]:
    listed = git("ls-tree", "--name-only", f"{CONVERTED_AT}:benchmarks/specs").split()
    return sorted(Path(name).stem for name in listed if name.endswith(".yaml"))


def headline_records() -> dict[str, dict[str, Any]]:
    """Every headline record of a spec there was at conversion, by spec name."""
    records = {}
    for name in converted_specs():
        if name.startswith("ram_") and "catch" not in name:
            records[name] = from_ram_row(name)
        elif name.endswith("multimnist") or name.endswith("multimnist_overlapping"):
            records[name] = from_air_seeds(name)
        elif name.startswith("dair_") and name.endswith("_memoryless"):
            run = name.removesuffix("_memoryless")
            records[name] = from_generalisation(name, "dair_generalisation_memoryless", run)
        elif name in ("dair_extrapolation", "dair_interpolation"):
            records[name] = from_generalisation(name, "air_generalisation", name)
        elif name.startswith(("stn_", "cnn_")):
            model, task = name.split("_", 1)
            records[name] = from_stn(name, task, model)
        else:
            records[name] = from_train_py(name)
    return records


# Old records whose every figure went to headline records.
CONSUMED = {"stn_cluttered60", "stn_translated", "dair_generalisation_memoryless"}


# --- probe records ---------------------------------------------------------------------------


def probe(
    name: str,
    old: dict[str, Any],
    *,
    sources: list[str],
    script: str,
    note: list[str],
    metrics: dict[str, Any] | None = None,
    seeds: list[dict[str, Any]] | None = None,
    config: dict[str, Any] | None = None,
    paper: dict[str, Any] | None = None,
    title: str | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A probe record of the runner's schema from an old record (its metrics under their old
    names; nested figures flattened, the metrics as written kept in ``converted``)."""
    path = sources[0]
    date = old.get("date") or commit_date(last_commit(path))
    where = old.get("machine") or "not recorded"
    metrics = flat_numbers(old["metrics"] if metrics is None else metrics)
    if "wall_s" in metrics and metrics["wall_s"] == old.get("wall_s"):
        del metrics["wall_s"]  # the record's own wall_s
    seeds = seeds or [
        {
            "seed": old.get("seed", 0),
            "command": old["command"],
            "metrics": metrics,
            "wall_s": old.get("wall_s"),
            "machine": where,
            "date": date,
            "git": git_of(path),
        }
    ]
    record = {
        "schema": SCHEMA,
        "name": name,
        "kind": "probe",
        "title": title or first_sentence(old.get("notes") or name),
        "benchmark": None,
        "metrics": metrics,
        "command": old["command"],
        "seed": [s["seed"] for s in seeds],
        "num_seeds": len(seeds),
        "seeds": seeds,
        "wall_s": old.get("wall_s"),
        "machine": where,
        "date": date,
        "git": git_of(path),
        "config": config if config is not None else old.get("config"),
        "paper": paper,
        "notes": old.get("notes") or "",
        **(extra or {}),
        "converted": {
            "from": sources,
            "by": BY,
            "script": script,
            "commands": [old["command"]],
            "commit": last_commit(path),
            "original_metrics": old["metrics"],
            "note": " ".join(note),
        },
    }
    check_record(record, where=name)
    return record


def paper_of(stem: str, old: dict[str, Any]) -> dict[str, Any] | None:
    """An old record's ``paper`` ({metric: value}, no source) as a record's."""
    figures = old.get("paper")
    if not figures:
        return None
    if stem == "air_generalisation":
        figures = {k: v for k, v in figures.items() if k.startswith("air_")}
        return paper_figure(figures, SPECS["dair_extrapolation"].paper.source)
    if stem.startswith("dair_interpolation_memoryless"):
        return paper_figure(figures, SPECS["dair_interpolation_memoryless"].paper.source)
    if stem.startswith("stn_"):
        spec = SPECS["stn_" + stem.split("_")[1]]
        return paper_figure({"test_error_pct": spec.paper.value}, spec.paper.source)
    raise ValueError(f"{stem}: a paper figure with no known source")


def per_seed_files(stem: str, old: dict[str, Any], config: dict[str, Any]) -> list[dict[str, Any]]:
    """The seeds of an air_seeds.py or air_generalisation.py probe, from the files it kept."""
    folder, renamed, seeds = f"{OLD}/logs/{stem}", [], []
    found = [p for p in old_files() if p.startswith(folder + "/") and p.endswith(".results.json")]
    for seed_path in found:
        kept = old_json(seed_path)
        run = Path(seed_path).name.removesuffix(".results.json")
        seed = int(run.removeprefix("seed-")) if run.startswith("seed-") else old["seed"]
        seeds.append(
            {
                "seed": seed,
                "command": old["command"],
                "metrics": runner_metrics(config["model"], kept, renamed),
                "wall_s": round(kept["wall_s"], 1),
                "machine": old["machine"],
                "date": old["date"],
                "git": git_of(seed_path),
                "summary": kept.get("summary"),
            }
        )
    return sorted(seeds, key=lambda s: s["seed"])


def top_level_probe(stem: str) -> dict[str, Any]:
    path = f"{OLD}/{stem}.json"
    old = old_json(path)
    script = script_of(old["command"])
    note = [f"Written by {script} before the runner; its metrics keep their old names."]
    sources, metrics, seeds, config = [path], None, None, None
    folder = f"{OLD}/logs/{stem}"
    runs = [p for p in old_files() if p.startswith(folder + "/") and p.endswith(".results.json")]
    if runs and (len(runs) == 1 or all(Path(p).name.startswith("seed-") for p in runs)):
        kept = sorted(p for p in old_files() if p.startswith(folder + "/") and p.endswith(".yaml"))
        config = old_yaml(kept[0])
        seeds = per_seed_files(stem, old, config)
        sources += [p for p in old_files() if p.startswith(folder + "/") and p.endswith(".json")]
        note.append(
            f"Each seed from the files kept in logs/{stem} (metrics named as the runner names "
            f"them; machine and date the old record's); the config is {Path(kept[0]).name}'s."
        )
    probe_config = f"{OLD}/logs/air_probes/{stem}.config.yaml"
    if probe_config in old_files():
        config = old_yaml(probe_config)
        sources.append(probe_config)
        note.append("The config is the probe run's, kept in logs/air_probes.")
    if stem == "air_generalisation":
        metrics = {k: v for k, v in old["metrics"].items() if k.startswith("air_")}
        sources += [p for p in old_files() if p.startswith(f"{folder}/air_")]
        note.append(
            "Only its AIR figures, one entry for both runs (each seed 0; their results, "
            f"metrics.csv and config.yaml are in logs/{stem}): its DAIR runs are the headline "
            "records dair_extrapolation and dair_interpolation."
        )
    if stem in NO_SPEC:
        note.append(
            f"A headline-like figure that no spec in benchmarks/specs measures yet: the runner "
            f"cannot produce it; {script} wrote it."
        )
    if stem in ("cnn_cluttered60", "cnn_translated"):
        note.append(
            f"The shallow CNN baseline of docs/ram.md ({old['config']['model']}, train.py), not "
            f"the STN's plain CNN of benchmarks/records/headline/{stem}.json."
        )
    if old.get("config") is None and config is None and stem != "air_generalisation":
        note.append("The old record kept no config.")
    return probe(
        stem,
        old,
        sources=sources,
        script=script,
        note=note,
        metrics=metrics,
        seeds=seeds,
        config=config,
        paper=paper_of(stem, old),
    )


def ram_probe(path: str) -> dict[str, Any]:
    """A benchmarks/ram_probe.py record (logs/ram_probes/<name>.json)."""
    old = dict(old_json(path))
    trainer = old["config"]["trainer"]
    words = ["python", "benchmarks/ram_probe.py", old["name"], "--config", old["base_config"]]
    for change in old["changes"]:
        words += ["--set", change]
    words += ["--max-minutes", f"{trainer['max_minutes']:g}", "--threads", str(trainer["threads"])]
    if trainer.get("seed"):
        words += ["--seed", str(trainer["seed"])]
    old.update(command=shlex.join(words), seed=trainer.get("seed", 0))
    settings = ", ".join(old["changes"]) or "as configured"
    return probe(
        Path(path).stem,
        old,
        sources=[path],
        script="benchmarks/ram_probe.py",
        title=f"RAM probe {old['name']} on {old['base_config']}: {settings} (validation only)",
        extra={"changes": old["changes"], "base_config": old["base_config"]},
        note=[
            "Written by benchmarks/ram_probe.py before the runner, which measures on the",
            "validation canvases only. The old record kept no command or date: the command is",
            "rebuilt from its name, base_config, changes and config; the date is that of the",
            "commit that wrote it.",
        ],
    )


def hit_distance(path: str) -> dict[str, Any]:
    """A benchmarks/ram_hit_distance.py record (logs/ram_hit_distance/<name>.json)."""
    old = old_json(path)
    stem = Path(path).stem
    return probe(
        f"ram_hit_distance_{stem}",
        old,
        sources=[path],
        script="benchmarks/ram_hit_distance.py",
        title=f"How far RAM's glimpses land from the digit, {stem}: {first_sentence(old['notes'])}",
        extra={"checkpoint": old["checkpoint"]},
        note=[
            "Written by benchmarks/ram_hit_distance.py before the runner; its nested metrics are",
            "flattened (name_key), the lists among them kept in original_metrics only.",
        ],
    )


def catch_misses(path: str) -> dict[str, Any]:
    """A benchmarks/catch_misses.py record (logs/catch_misses/<name>.json)."""
    old = old_json(path)
    stem = Path(path).stem
    figures = {k: v for k, v in old.items() if k != "checkpoint"}
    command = shlex.join(
        ["python", "benchmarks/catch_misses.py", old["checkpoint"], "--name", stem]
    )
    as_record = {
        "metrics": figures,
        "command": command,
        "seed": 0,
        "wall_s": None,
        "notes": (
            "The Catch agent's misses on the 1,000 validation games (seed 1), played greedily: "
            "the ball's column less the paddle's before the last move, where the glimpses look "
            "at each step, and the return in training mode (benchmarks/catch_misses.py)."
        ),
    }
    return probe(
        f"catch_misses_{stem}",
        as_record,
        sources=[path],
        script="benchmarks/catch_misses.py",
        title=f"Where the Catch agent {stem} misses: its 1,000 validation games, greedy",
        extra={"checkpoint": old["checkpoint"]},
        note=[
            "Written by benchmarks/catch_misses.py before the runner, which kept no command,",
            "machine, date or wall time: the command is rebuilt from its name and checkpoint,",
            "the date is that of the commit that wrote it. Nested figures are flattened, the",
            "lists kept in original_metrics only.",
        ],
    )


def orphan_row(path: str) -> dict[str, Any]:
    """A ram_row.py seed file of a row's earlier configuration, which no summary record holds."""
    kept = old_json(path)
    stem = Path(path).stem
    row, seed = kept["row"], kept["seed"]
    variant = stem.removeprefix(f"ram_{row}_").removesuffix(f"_seed{seed}")
    renamed: list[str] = []
    metrics = runner_metrics("ram", kept, renamed, (*EVALUATED, "episode_error_pct"))
    threads = kept["config"]["trainer"].get("threads")
    words = ["python", "benchmarks/ram_row.py", row, "--seed", str(seed)]
    words += ["--threads", str(threads)] if threads else []
    as_record = {
        "metrics": metrics,
        "command": shlex.join(words),
        "seed": seed,
        "wall_s": kept["wall_s"],
        "config": kept["config"],
        "notes": (
            f"RAM's {row} row as first configured ({variant}), seed {seed}: test error with one "
            "glimpse path per image (M=1) on the task's 10,000 fixed test canvases, M=10 beside "
            "it, and the glimpse hit rate; the checkpoint chosen on 5,000 validation images."
        ),
    }
    return probe(
        stem,
        as_record,
        sources=[path],
        script="benchmarks/ram_row.py",
        title=f"RAM, {row} row as first configured ({variant}), seed {seed}: test error, M=1",
        note=[
            "A seed file of benchmarks/ram_row.py (kept as a raw file in logs/ram_rows too) from",
            "a configuration of the row that was later changed; no summary record held it. Its",
            "command is rebuilt (the row's config then was the one recorded here); machine not",
            "recorded; the date is that of the commit that wrote it.",
        ],
    )


def probe_records(headlines: dict[str, dict[str, Any]]) -> dict[str, tuple[str, dict]]:
    """Every probe record by name, with the old file it came from."""
    records: dict[str, tuple[str, dict]] = {}
    used = {name for name in headlines} | CONSUMED
    used -= {"cnn_cluttered60", "cnn_translated"}  # those files are the shallow CNN's

    def add(path: str, record: dict[str, Any]) -> None:
        if record["name"] in records:
            raise ValueError(f"two probes named {record['name']}")
        records[record["name"]] = (path, record)

    row_seeds = {
        f"{OLD}/logs/ram_rows/{name}_seed{k}.json"
        for name, record in headlines.items()
        for k in record["seed"]
    }
    for path in old_files():
        parts = Path(path).relative_to(OLD).parts
        if len(parts) == 1 and path.endswith(".json") and Path(path).stem not in used:
            add(path, top_level_probe(Path(path).stem))
        elif len(parts) == 3 and parts[0] == "logs" and path.endswith(".json"):
            if parts[1] == "ram_probes":
                add(path, ram_probe(path))
            elif parts[1] == "ram_hit_distance":
                add(path, hit_distance(path))
            elif parts[1] == "catch_misses":
                add(path, catch_misses(path))
            elif parts[1] == "ram_rows" and path not in row_seeds:
                add(path, orphan_row(path))
    return records


# --- writing -----------------------------------------------------------------------------------


def is_record_of_logs(path: str) -> bool:
    """A JSON file under logs/ converted to a probe record rather than moved as a raw file."""
    parts = Path(path).relative_to(OLD).parts
    return len(parts) == 3 and parts[1] in LOG_RECORDS and path.endswith(".json")


def check_old_tree() -> None:
    """Refuse, before writing anything, a working tree whose old files differ from SOURCE's."""
    folder = ROOT / OLD
    if not folder.exists():
        return
    present = {str(p.relative_to(ROOT)) for p in folder.rglob("*") if p.is_file()}
    unknown = sorted(present - set(old_files()))
    changed = sorted(p for p in present & set(old_files()) if (ROOT / p).read_bytes() != blob(p))
    if unknown or changed:
        raise SystemExit(
            f"{OLD} holds files not as of {SOURCE[:12]}; move them first: "
            + ", ".join(unknown + changed)
        )


def write(path: str, record: dict[str, Any]) -> bool:
    """Write a record unless a runner-written one (no ``converted``) is there already."""
    target = ROOT / path
    if target.is_file() and "converted" not in json.loads(target.read_text()):
        print(f"kept {path}: written by the runner")
        return False
    write_record(target, record)
    return True


def main() -> None:
    check_old_tree()
    headlines = headline_records()
    probes = probe_records(headlines)
    moved: dict[str, str] = {}
    for name, record in headlines.items():
        write(f"{RECORDS}/headline/{name}.json", record)
    for name, (_, record) in probes.items():
        write(f"{RECORDS}/probes/{name}.json", record)
    for path in old_files():
        if not is_record_of_logs(path) and Path(path).relative_to(OLD).parts[0] == "logs":
            new = f"{RECORDS}/{Path(path).relative_to(OLD)}"
            (ROOT / new).parent.mkdir(parents=True, exist_ok=True)
            (ROOT / new).write_bytes(blob(path))
            moved[path] = new
    raw = len(moved)
    # each old record's new path: the record of its name, headline or probe; for one split in
    # two with neither name, the first of them
    records = [
        (r["converted"]["from"][0], f"{RECORDS}/headline/{n}.json") for n, r in headlines.items()
    ]
    records += [(path, f"{RECORDS}/probes/{name}.json") for name, (path, _) in probes.items()]
    for path, new in sorted(records, key=lambda pair: Path(pair[0]).stem != Path(pair[1]).stem):
        moved.setdefault(path, new)
    missing = sorted(set(old_files()) - set(moved))
    if missing:
        raise SystemExit(f"no new path for {', '.join(missing)}")
    MAPPING.write_text("".join(f"{old}\t{moved[old]}\n" for old in sorted(moved)))
    for path in old_files():
        (ROOT / path).unlink(missing_ok=True)
    folder = ROOT / OLD
    for directory in (
        sorted(folder.rglob("*"), key=lambda p: -len(p.parts)) if folder.exists() else []
    ):
        if directory.is_dir() and not any(directory.iterdir()):
            directory.rmdir()
    if folder.exists() and not any(folder.iterdir()):
        folder.rmdir()
    print(
        f"{len(headlines)} headline records, {len(probes)} probe records, "
        f"{raw} raw files moved; old -> new paths in "
        f"{MAPPING}"
    )


if __name__ == "__main__":
    sys.exit(main())
