"""``foveate bench``: run a named benchmark, list them, or regenerate the README's results table."""

from __future__ import annotations

import argparse
from pathlib import Path

from foveate.bench.analyses import load_analyses
from foveate.bench.runner import Invocation, run_benchmark
from foveate.bench.spec import load_specs, project_root
from foveate.bench.table import (
    ANALYSES_END,
    ANALYSES_START,
    analyses_table,
    results_table,
    write_table,
)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="foveate bench",
        description="Train a benchmark's seeds, evaluate them and write its record.",
        epilog="Specs are the YAML files of benchmarks/specs/; records go to "
        "benchmarks/records/headline/ (probes: benchmarks/records/probes/).",
    )
    parser.add_argument("name", nargs="?", help="the benchmark (a spec's name)")
    parser.add_argument("--seeds", type=int, nargs="+", help="default: the spec's")
    parser.add_argument(
        "--set",
        dest="settings",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override a config setting (makes a probe: name it with --probe)",
    )
    parser.add_argument("--probe", help="the probe's record name (benchmarks/records/probes/)")
    parser.add_argument("--data-dir", help="the dataset's directory (default: as foveate train)")
    parser.add_argument("--threads", type=int, help="torch threads per run")
    parser.add_argument("--restart", action="store_true", help="train recorded seeds afresh")
    parser.add_argument(
        "--smoke", action="store_true", help="a run of seconds on tiny data (tests the command)"
    )
    parser.add_argument(
        "--records", type=Path, help="where records go (default: benchmarks/records)"
    )
    parser.add_argument("--runs", type=Path, help="where runs go (default: runs/bench)")
    parser.add_argument("--list", action="store_true", help="the benchmarks, one a line")
    parser.add_argument(
        "--table",
        action="store_true",
        help="print the README's results and analyses tables from the records",
    )
    parser.add_argument(
        "--write-readme", type=Path, metavar="README", help="with --table: write it into README"
    )
    parser.add_argument(
        "--manifest",
        action="store_true",
        help="write benchmarks/weights/manifest.json, the pretrained models, from the records",
    )
    parser.add_argument("--base-url", help="with --manifest: where the weights can be downloaded")
    args = parser.parse_args(argv)
    root = project_root()
    specs = load_specs(root)
    if args.list:
        for name in specs.names():
            spec = specs[name]
            print(
                f"{name:32s} {spec.kind:8s} seeds {','.join(map(str, spec.seeds)):8s} {spec.title}"
            )
        return 0
    if args.manifest:
        from foveate.bench.pretrained import (
            MANIFEST,
            manifest_entries,
            manifest_text,
            ship_compact_copies,
        )

        every = [specs[n] for n in specs.names()]
        for copy in ship_compact_copies(every, root):
            print(f"wrote {copy.relative_to(root)}")
        entries = manifest_entries(every, root, base_url=args.base_url)
        (root / MANIFEST).write_text(manifest_text(entries))
        print(f"{MANIFEST}: {len(entries)} pretrained models")
        return 0
    if args.table:
        table = results_table([specs[n] for n in specs.names()], root)
        analyses = analyses_table(load_analyses(root), root)
        if args.write_readme:
            changed = write_table(args.write_readme, table)
            changed |= write_table(
                args.write_readme, analyses, start=ANALYSES_START, end=ANALYSES_END
            )
            print(f"{args.write_readme}: {'rewritten' if changed else 'unchanged'}")
        else:
            print(f"{table}\n\n{analyses}")
        return 0
    if not args.name:
        parser.error("name a benchmark (foveate bench --list names them)")
    invocation = Invocation(
        seeds=tuple(args.seeds) if args.seeds else None,
        settings=tuple(args.settings),
        probe=args.probe,
        data_dir=args.data_dir,
        threads=args.threads,
        smoke=args.smoke,
        restart=args.restart,
        records=args.records,
        runs=args.runs,
    )
    path = run_benchmark(specs[args.name], invocation, root=root)
    if path is not None:
        print(f"wrote {path}")
    return 0
