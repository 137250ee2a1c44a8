"""RAM on full MNIST, 6 glimpses: ``benchmarks/train.py ram_mnist`` under the name that the
first results files record as their command.

    python benchmarks/ram_mnist.py
"""

import sys

from train import main

if __name__ == "__main__":
    sys.argv.insert(1, "ram_mnist")
    main()
