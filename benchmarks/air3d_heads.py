"""What a trained AIR3D reads of single-object scenes: which shape it names for each true shape,
and what its cube rotation says of cubes.

    python benchmarks/air3d_heads.py runs/bench/air3d_single_10ep_quarter_turn/seed0/checkpoints/best.ckpt \\
        --name air3d_heads_quarter_turn

For 300 single-object scenes of ``rendered_scenes`` (data seed 5, not the test scenes), the
model's most likely reading: the count of each (true shape, named shape) pair; q(identity)'s
mean share of each shape over the cube scenes; and, where the model has a rotation per identity
(``rotation_per_identity``), its cube rotation over the cube scenes whatever shape it named:
the spread of its mean across scenes (a head that learnt nothing gives every scene the same
rotation), its standard deviation, its error modulo a quarter turn (median) and the mean of
cos(4 (theta - truth)) (1: every cube right; 0: no relation). Writes
benchmarks/records/probes/<name>.json. Trains nothing.
"""

from __future__ import annotations

import argparse
import math
import time

import torch
from common import write_results

import foveate
from foveate.data.rendered_scenes import random_scenes
from foveate.render.shapes import SHAPES
from foveate.training.inverse_graphics import rotation_error


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--name", required=True, help="the probe record's name")
    parser.add_argument("--scenes", type=int, default=300)
    args = parser.parse_args()
    started = time.perf_counter()
    model, _ = foveate.load(args.checkpoint)
    model.eval()
    scenes = random_scenes(
        args.scenes, counts=(1,), size=model.image_size, generator=torch.Generator().manual_seed(5)
    )
    with torch.no_grad():
        out = model(scenes.images[:, None], mode=True)
    truth, named = scenes.identity[:, 0], out.identity[:, 0]
    metrics: dict[str, float] = {"scenes": args.scenes}
    for k, shape in enumerate(SHAPES):
        for j, other in enumerate(SHAPES):
            metrics[f"{shape}_named_{other}"] = int(((truth == k) & (named == j)).sum())
    cube = truth == SHAPES.index("cube")
    share = out.identity_logits[:, 0].softmax(-1)[cube].mean(0)
    for k, shape in enumerate(SHAPES):
        metrics[f"cube_scenes_q_{shape}"] = share[k].item()
    if out.each_rotation_loc.shape[-1] == len(SHAPES):
        turn = out.each_rotation_loc[cube, 0, SHAPES.index("cube")]
        true = scenes.rotation[cube, 0]
        error = rotation_error(turn, true)  # modulo a quarter turn
        metrics.update(
            cube_rotation_spread_rad=turn.std().item(),
            cube_rotation_std_rad=out.each_rotation_scale[cube, 0, SHAPES.index("cube")]
            .mean()
            .item(),
            cube_rotation_error_deg_median=math.degrees(error.median().item()),
            cube_rotation_agreement=torch.cos(4 * (turn - true)).mean().item(),
        )
    path = write_results(
        args.name,
        metrics=metrics,
        seed=0,
        wall_s=time.perf_counter() - started,
        notes=(
            f"What the AIR3D of {args.checkpoint} reads of {args.scenes} single-object scenes "
            "(data seed 5): the (true shape, named shape) counts, q(identity) over the cube "
            "scenes, and its cube rotation over them (the module's docstring says what each "
            "figure is). Labels: the scenes' true shapes and rotations, read to score only."
        ),
    )
    for key, value in metrics.items():
        print(f"{key}: {value:g}")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
