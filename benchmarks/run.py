"""The benchmark runner, as a script: the same as ``foveate bench``.

python benchmarks/run.py ram_mnist_6g --seeds 0 1 2 --threads 1
python benchmarks/run.py --list
"""

import sys

from foveate.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
