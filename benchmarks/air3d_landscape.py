"""Whether the renderer's likelihood tells AIR3D's shapes apart: the identity landscape.

    python benchmarks/air3d_landscape.py --scenes 60

For single-object scenes of ``rendered_scenes`` (data seed 0), each of the three identities is
scored by log p(x | identity, pose) (Normal(render, sigma), AIR3D's likelihood at the final
silhouette), first at the true pose, then at its best pose over a grid near the truth (the
position moved by up to 0.15 on each axis, the rotation over a quarter turn). The true identity
should win by a margin at every scene: if it does, a q(identity) that fails to find it fails in
learning, not because the likelihood cannot see the difference. For the cube scenes it also
scores every rotation of a quarter turn at the true position: whether the likelihood peaks at
the true rotation, how deep its valley is, how much of the turn a cylinder fits better than the
cube, and whether autograd's slope points to the truth. Writes
benchmarks/records/probes/air3d_landscape.json. Trains nothing.
"""

from __future__ import annotations

import argparse
import math
import time

import torch
from common import write_results
from torch.distributions import Normal

from foveate.data.rendered_scenes import random_scenes
from foveate.render.raymarch import render
from foveate.render.scene import Scene
from foveate.render.shapes import SHAPES
from foveate.training.inverse_graphics import rotation_error

TURNS = 90  # rotations over a quarter turn: one a degree


def rotation_landscape(log_likelihood, truth, position, rotation, best) -> dict[str, float]:
    """The cube scenes' likelihood over a quarter turn at the true position (see the notes)."""
    cube, cylinder = SHAPES.index("cube"), SHAPES.index("cylinder")
    mine = truth == cube
    quarter = math.pi / 2
    turns = torch.arange(TURNS) * quarter / TURNS
    landscape, slopes = [], []
    for turn in turns:
        theta = torch.full_like(rotation, float(turn)).requires_grad_(True)
        score = log_likelihood(cube, position, theta)
        (slope,) = torch.autograd.grad(score.sum(), theta)
        landscape.append(score.detach())
        slopes.append(slope)
    landscape = torch.stack(landscape, 1)[mine]  # (cubes, TURNS)
    slopes = torch.stack(slopes, 1)[mine]
    # the signed way from each turn to the truth, modulo a quarter turn, in (-45, 45] degrees
    way = torch.remainder(rotation[mine, None] - turns[None] + quarter / 2, quarter) - quarter / 2
    peak = turns[landscape.argmax(1)]
    peak_error = rotation_error(peak, rotation[mine])
    clear = (way.abs() > math.radians(3)) & (way.abs() < quarter / 2 - math.radians(3))
    towards = (torch.sign(slopes) == torch.sign(way)) & clear
    # The slope followed scene by scene (Adam, 150 steps of 0.03 from a rotation drawn
    # uniformly over a quarter turn): what an inference network could learn to do at once.
    start = torch.rand(len(rotation), generator=torch.Generator().manual_seed(1)) * quarter
    theta = start.clone().requires_grad_(True)
    search = torch.optim.Adam([theta], lr=0.03)
    for _ in range(150):
        search.zero_grad()
        (-log_likelihood(cube, position, theta)[mine].sum()).backward()
        search.step()

    return {
        "rotation_search_start_error_deg_median": math.degrees(
            rotation_error(start, rotation)[mine].median()
        ),
        "rotation_search_error_deg_median": math.degrees(
            rotation_error(theta.detach(), rotation)[mine].median()
        ),
        "rotation_cube_scenes": int(mine.sum()),
        "rotation_peak_error_deg_median": math.degrees(peak_error.median().item()),
        "rotation_peak_error_deg_max": math.degrees(peak_error.max().item()),
        "rotation_depth_nats_median": (landscape.max(1).values - landscape.min(1).values)
        .median()
        .item(),
        "turns_a_cylinder_fits_better_pct": 100
        * (best[mine, cylinder, None] > landscape).float().mean().item(),
        "gradient_towards_truth_pct": 100 * towards.sum().item() / clear.sum().item(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=60)
    parser.add_argument("--likelihood-std", type=float, default=0.1)  # air3d's default
    parser.add_argument("--temperature", type=float, default=0.05)  # its final silhouette
    args = parser.parse_args()
    started = time.perf_counter()
    scenes = random_scenes(args.scenes, counts=(1,), generator=torch.Generator().manual_seed(0))
    images = scenes.images[:, None]
    truth, position, rotation = scenes.identity[:, 0], scenes.position[:, 0], scenes.rotation[:, 0]
    B, K = len(images), len(SHAPES)

    def log_likelihood(identity: int, where: torch.Tensor, turn: torch.Tensor) -> torch.Tensor:
        scene = Scene(
            identity=torch.full((B, 1), identity),
            position=where[:, None],
            rotation=turn[:, None],
            present=torch.ones(B, 1, dtype=torch.bool),
        )
        drawn = render(scene, size=images.shape[-1], temperature=args.temperature)
        return Normal(drawn, args.likelihood_std).log_prob(images).flatten(1).sum(-1)

    rows = torch.arange(B)
    with torch.no_grad():
        at_truth = torch.stack([log_likelihood(k, position, rotation) for k in range(K)], 1)
        offsets = torch.linspace(-0.15, 0.15, 7)
        turns = torch.linspace(0, math.pi / 2, 10)[:-1]
        best = torch.full((B, K), -math.inf)
        for k in range(K):
            for dx in offsets:
                for dz in offsets:
                    # a sphere looks the same at every turn
                    for turn in turns if SHAPES[k] != "sphere" else turns[:1]:
                        moved = position + torch.stack([dx, dz])
                        score = log_likelihood(k, moved, torch.full_like(rotation, float(turn)))
                        best[:, k] = torch.maximum(best[:, k], score)

    def margins(scores: torch.Tensor) -> torch.Tensor:
        others = scores.clone()
        others[rows, truth] = -math.inf
        return scores[rows, truth] - others.max(1).values

    at, searched = margins(at_truth), margins(best)
    metrics: dict[str, float] = {
        "scenes": B,
        "margin_at_true_pose_median_nats": at.median().item(),
        "margin_at_true_pose_min_nats": at.min().item(),
        "margin_pose_searched_median_nats": searched.median().item(),
        "margin_pose_searched_min_nats": searched.min().item(),
        "scenes_a_wrong_identity_wins": int((searched < 0).sum()),
    }
    others = best.clone()
    others[rows, truth] = -math.inf
    for k, shape in enumerate(SHAPES):
        mine = truth == k
        metrics[f"{shape}_scenes"] = int(mine.sum())
        if mine.any():
            metrics[f"{shape}_margin_median_nats"] = searched[mine].median().item()
            runner_up = others.argmax(1)[mine].mode().values.item()
            metrics[f"{shape}_nearest_other_is_{SHAPES[runner_up]}"] = 1
    metrics.update(rotation_landscape(log_likelihood, truth, position, rotation, best))
    notes = (
        "Whether the renderer's likelihood tells AIR3D's shapes apart: for single-object "
        f"rendered scenes (data seed 0), log p(x | identity, pose) under Normal(render, "
        f"{args.likelihood_std}) at the silhouette temperature {args.temperature}, the true "
        "identity's against the best other's, at the true pose and at each identity's best pose "
        "over a grid near the truth (position +-0.15 in 7 steps a side, rotation over a quarter "
        "turn in 9). A positive margin at every scene means the likelihood separates the shapes. "
        "The rotation's half, for the cube scenes at the true position: log p(x | cube, theta) "
        f"over {TURNS} rotations of a quarter turn (rotation_peak_error_deg: its best rotation's "
        "distance from the truth, modulo a quarter turn; rotation_depth_nats: the best rotation's "
        "likelihood over the worst's; turns_a_cylinder_fits_better_pct: the share of rotations "
        "at which the cylinder, at its own best pose, fits the cube's image better than the "
        "cube; gradient_towards_truth_pct: the share of rotations, more than 3 degrees from the "
        "truth and from the rotation opposite it, at which autograd's d log p / d theta points "
        "the shorter way to the truth; rotation_search_error_deg: the error left after following "
        "that slope scene by scene, 150 Adam steps of 0.03 from a uniform start)."
    )
    path = write_results(
        "air3d_landscape",
        metrics=metrics,
        seed=0,
        wall_s=time.perf_counter() - started,
        notes=notes,
    )
    for key, value in metrics.items():
        print(f"{key}: {value:g}")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
