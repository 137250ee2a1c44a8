"""Build the MNIST sample shipped in the package, reproducibly, from the canonical files.

    python scripts/build_mnist_sample.py --data-dir /work/shared/data/mnist

Checks the four canonical files against their MD5s, then draws 500 training digits of each class
(5,000) and 100 test digits of each class (1,000) with numpy's default_rng(0), sorts the indices
(file order) and writes foveate/data/sample/mnist_sample.npz with the images, the labels and the
indices into the canonical files. See foveate/data/sample/README.md.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
from pathlib import Path

import numpy as np

from foveate.data.mnist import MNIST_FILES, find_file, load_mnist

OUT = Path(__file__).resolve().parents[1] / "foveate" / "data" / "sample" / "mnist_sample.npz"
PER_CLASS = {"train": 500, "test": 100}  # drawn in this order from one generator
SEED = 0


def check_canonical(data_dir: Path) -> None:
    """Raise unless every canonical file is in data_dir with its published MD5.

    load_mnist checks only the structure of files already present; the sample must come from
    exactly the canonical bytes.
    """
    for name, expected in MNIST_FILES.items():
        path = find_file(name, data_dir)
        if path is None:
            raise SystemExit(f"{name} (or {name}.gz) is not in {data_dir}")
        data = path.read_bytes()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        digest = hashlib.md5(data).hexdigest()
        if digest != expected:
            raise SystemExit(
                f"{path}: MD5 of the decompressed file is {digest}, expected {expected}"
            )


def stratified(labels: np.ndarray, per_class: int, rng: np.random.Generator) -> np.ndarray:
    """``per_class`` indices of each class 0..9 drawn without replacement, in ascending order."""
    chosen = [rng.choice(np.flatnonzero(labels == c), per_class, replace=False) for c in range(10)]
    return np.sort(np.concatenate(chosen))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True, help="the canonical MNIST files")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    check_canonical(args.data_dir)
    rng = np.random.default_rng(SEED)
    arrays = {}
    for split, per_class in PER_CLASS.items():
        images, labels = (t.numpy() for t in load_mnist(split, args.data_dir, download=False))
        index = stratified(labels, per_class, rng)
        arrays[f"{split}_images"] = images[index]
        arrays[f"{split}_labels"] = labels[index].astype(np.uint8)
        arrays[f"{split}_indices"] = index.astype(np.int32)
        counts = np.bincount(labels[index], minlength=10)
        print(f"{split}: {len(index)} digits, per class {' '.join(map(str, counts))}")
    np.savez_compressed(args.out, **arrays)
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
