"""Feed-forward attention against an LSTM and mean pooling, length by length: the issue's
``ffattention_addition`` and ``ffattention_multiplication`` records.

    python benchmarks/ffattention.py

Reads the runner's probe records ``ffa_<problem>[_lstm|_meanpool]_t<T0>`` (and ``_mixed``), each
trained by

    foveate bench ffa_addition --set data.min_length=T0 --set data.length=1.1T0 \\
        --probe ffa_addition_t<T0>

and writes benchmarks/records/probes/ffattention_<problem>.json, whose metrics name each length
and model: ``solved_<T>_<model>`` (1 when at least 99% of the 10,000 test answers lie within 0.04
of their targets, else 0), ``steps_to_solve_<T>_<model>`` (the training steps until 99.5% of the
validation answers did; only where it was solved), ``test_within_pct_<T>_<model>`` and
``minutes_<T>_<model>``; ``<T>`` is T0 or ``mixed``, ``<model>`` ``attention``, ``lstm`` or
``meanpool``. The attention's figures are also named without the model (``solved_<T>``), as
the issue names them. It trains nothing; a length not yet run is left out and said so.
"""

from __future__ import annotations

from common import PROBES, write_results

from foveate.bench.record import read_record

LENGTHS = ("50", "100", "500", "1000", "5000", "10000", "mixed")
MODELS = {"attention": "", "lstm": "_lstm", "meanpool": "_meanpool"}
SOLVED_PCT = 99.0  # issue 34: a length is solved when 99% of the held-out answers are right


def gather(problem: str) -> None:
    metrics: dict[str, float] = {}
    seeds, missing, sources = [], [], []
    wall_s = 0.0
    for model, suffix in MODELS.items():
        for length in LENGTHS:
            name = (
                f"ffa_{problem}{suffix}_t{length}"
                if length != "mixed"
                else f"ffa_{problem}{suffix}_mixed"
            )
            path = PROBES / f"{name}.json"
            if not path.is_file():
                missing.append(name)
                continue
            record = read_record(path)
            run = record["seeds"][0]["metrics"]
            within = run["test_within_pct"]
            solved = int(within >= SOLVED_PCT)
            figures = {
                "solved": solved,
                "test_within_pct": within,
                "minutes": round(record["seeds"][0]["wall_s"] / 60, 1),
            }
            if solved and "steps_to_stop_at" in run:
                figures["steps_to_solve"] = run["steps_to_stop_at"]
            for key, value in figures.items():
                metrics[f"{key}_{length}_{model}"] = value
                if model == "attention":
                    metrics[f"{key}_{length}"] = value
            wall_s = max(wall_s, record["wall_s"])
            sources.append(f"{name} (commit {record['git']['commit'][:7]})")
            seeds.append(
                {
                    "seed": record["seeds"][0]["seed"],
                    "command": record["command"],
                    "metrics": {f"{k}_{length}_{model}": v for k, v in figures.items()},
                    "wall_s": record["wall_s"],
                }
            )
    if not metrics:
        print(f"ffattention_{problem}: no ffa_{problem}_* probe record yet")
        return
    notes = (
        f"The {problem} problem, length by length (T0: lengths drawn from [T0, 1.1 T0]; mixed: "
        "50 to 10,000, padded with a mask): feed-forward attention, an LSTM and mean pooling, each "
        "trained until 99.5% of 1,000 validation answers lie within 0.04 or for 30 minutes (the "
        "issue's budget), one seed. solved: at least 99% of 10,000 test answers within 0.04. "
        "Gathered from "
        + "; ".join(sources)
        + (f". Not yet run: {', '.join(missing)}" if missing else "")
        + ". Labels: the problem's own targets, in training, validation and test alike."
    )
    path = write_results(
        f"ffattention_{problem}",
        metrics=metrics,
        seed=0,
        wall_s=wall_s,
        notes=notes,
        seeds=seeds,
        title=f"Feed-forward attention, an LSTM and mean pooling on the {problem} problem, by length",
    )
    for key, value in metrics.items():
        print(f"{key}: {value:g}")
    print(f"wrote {path}")


def main() -> None:
    for problem in ("addition", "multiplication"):
        gather(problem)


if __name__ == "__main__":
    main()
