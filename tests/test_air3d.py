"""AIR inverting the renderer (issue 33): its data, its exact bound, its gradients, its scores."""

import math

import pytest
import torch

from foveate.data.rendered_scenes import SEPARATION, RenderedSceneDataModule, random_scenes
from foveate.models import create_model
from foveate.models.air3d import IDENTITIES, identity_combinations
from foveate.render import Camera, Scene, camera_rays, composite, render_objects
from foveate.render.finite_differences import render_objects_finite_differences
from foveate.training.inverse_graphics import matched_objects, rotation_error

SMALL = dict(image_size=16, lstm_size=16, hidden_size=16, embed_size=16, window=8, render_steps=12)


def _scenes(number=12, counts=(0, 1, 2, 3), size=16, seed=0):
    return random_scenes(
        number, counts=counts, size=size, generator=torch.Generator().manual_seed(seed)
    )


def test_scenes_hold_their_count_of_separated_objects_and_an_empty_scene_is_blank():
    scenes = _scenes(64)
    assert scenes.images.shape == (64, 16, 16)
    assert 0 <= scenes.images.min() and scenes.images.max() <= 1
    real = scenes.identity >= 0
    assert torch.equal(real.sum(-1), scenes.count)
    assert torch.equal(real, torch.arange(3) < scenes.count[:, None])  # the first count listed
    assert (scenes.position.abs() <= 1.5).all()
    for b in range(64):
        n = int(scenes.count[b])
        if n > 1:
            gaps = torch.pdist(scenes.position[b, :n])
            assert (gaps >= SEPARATION).all()
    empty = scenes.count == 0
    assert empty.any() and (scenes.images[empty] == 0).all()
    assert (scenes.images[~empty].flatten(1).amax(-1) > 0.2).all()  # an object shows


def test_scenes_follow_their_seed_and_impossible_settings_are_refused():
    a, b, c = _scenes(seed=1), _scenes(seed=1), _scenes(seed=2)
    assert torch.equal(a.images, b.images) and not torch.equal(a.images, c.images)
    with pytest.raises(ValueError, match="cannot place"):
        random_scenes(4, counts=(9,), separation=1.5, extent=1.0)
    with pytest.raises(ValueError, match="counts"):
        RenderedSceneDataModule(counts=(-1,))


def test_the_camera_projects_a_point_onto_the_pixel_whose_ray_passes_it():
    camera = Camera()
    eye, rays = camera_rays(camera, size=8, dtype=torch.float64)
    points = eye + 6.0 * rays  # (64, 3) a point on each pixel's ray
    centres = (torch.arange(8, dtype=torch.float64) + 0.5) / 8 * 2 - 1
    expected = torch.stack(torch.meshgrid(centres, centres, indexing="xy"), -1).reshape(-1, 2)
    torch.testing.assert_close(camera.project(points), expected)


def test_identity_combinations_list_every_count_and_identity_once():
    combos = identity_combinations(2)
    assert combos.shape == (1 + 3 + 9, 2)
    assert len({tuple(row.tolist()) for row in combos}) == len(combos)
    # absent steps come last: once absent, absent for good
    absent = combos == IDENTITIES
    assert (absent[:, :1] <= absent[:, 1:]).all()


def test_the_enumerated_bound_is_the_sum_over_counts_and_identities_done_by_hand():
    torch.manual_seed(0)
    model = create_model("air3d", steps=2, estimator="enumerate", **SMALL).double().train()
    images = _scenes(3, counts=(1, 2)).images[:, None].double()
    noise = model.sample_noise(images).double()
    out = model(images, noise)
    got = model.loss(out, images).nll_bound

    # by hand: each count n and identities of its n objects, its render, its probability
    rho = out.pres_probs
    q_id = out.identity_logits.softmax(-1)
    prior = float(model.z_pres_prior)
    kl_where, kl_rotation = model.continuous_kl(out)
    bounds = []
    torch.set_grad_enabled(False)
    for b in range(len(images)):
        total = 0.0
        for combo in identity_combinations(2).tolist():
            n = sum(k < IDENTITIES for k in combo)
            q_n = math.prod(float(rho[b, i]) for i in range(n)) * (
                1 - float(rho[b, n]) if n < 2 else 1.0
            )
            p_n = prior**n * (1 - prior if n < 2 else 1.0)
            q = q_n * math.prod(float(q_id[b, i, combo[i]]) for i in range(n))
            p = p_n / 3**n
            identity = torch.tensor([[min(k, 0) if k == IDENTITIES else k for k in combo]])
            present = torch.tensor([[k < IDENTITIES for k in combo]])
            image = model.draw(identity, out.z_where[b : b + 1], out.rotation[b : b + 1], present)
            log_lik = float(model.log_likelihood(images[b : b + 1], image)[0])
            continuous = sum(float(kl_where[b, i] + kl_rotation[b, i]) for i in range(n))
            total += q * (-log_lik + math.log(q / p) + continuous)
        bounds.append(total)
    torch.set_grad_enabled(True)
    assert got.item() == pytest.approx(sum(bounds) / len(bounds), rel=1e-9)


def test_finite_differences_agree_with_autograd_on_a_sphere_and_move_with_the_step():
    """A sphere's image is smooth in its pose: small central differences give autograd's
    gradient. (A cube's shading jumps at its edges, where the two part ways.)"""
    torch.manual_seed(0)
    scene = Scene(
        identity=torch.tensor([[1, 1]]),
        position=torch.tensor([[[0.3, -0.4], [-0.9, 0.8]]], dtype=torch.float64),
        rotation=torch.tensor([[0.3, 1.1]], dtype=torch.float64),
        present=torch.ones(1, 2, dtype=torch.bool),
    )
    weights = torch.rand(1, 1, 24, 24, dtype=torch.float64)
    grads = []
    for layers in (
        render_objects,
        lambda s, **k: render_objects_finite_differences(s, step=1e-5, **k),
    ):
        position = scene.position.clone().requires_grad_()
        moved = Scene(scene.identity, position, scene.rotation, scene.present)
        (composite(layers(moved, size=24)) * weights).sum().backward()
        grads.append(position.grad)
    torch.testing.assert_close(grads[1], grads[0], rtol=1e-3, atol=1e-3)
    assert grads[0].abs().max() > 0.1  # the check has something to compare


def test_matching_pairs_found_objects_with_the_nearest_true_ones():
    found = torch.tensor(
        [[[1.0, 1.0], [-1.0, 0.0], [9.0, 9.0]], [[0.0, 0.0], [5.0, 5.0], [2.0, 2.0]]]
    )
    truth = torch.tensor(
        [[[-1.1, 0.0], [0.9, 1.0], [0.0, 0.0]], [[0.1, 0.0], [0.0, 0.0], [0.0, 0.0]]]
    )
    order = matched_objects(found, truth, torch.tensor([2, 1]))
    assert order[0, :2].tolist() == [1, 0] and order[1, 0].item() == 0


def test_rotation_error_counts_a_quarter_turn_as_none():
    found = torch.tensor([0.0, math.pi / 2, 0.1, math.pi / 4 + 0.01])
    truth = torch.zeros(4)
    torch.testing.assert_close(
        rotation_error(found, truth), torch.tensor([0.0, 0.0, 0.1, math.pi / 4 - 0.01])
    )


@pytest.mark.parametrize("estimator", ["enumerate", "reinforce"])
@pytest.mark.parametrize("gradient", ["autograd", "finite_differences"])
def test_every_estimator_and_gradient_trains_the_inference_network(estimator, gradient):
    torch.manual_seed(0)
    model = create_model("air3d", estimator=estimator, gradient=gradient, **SMALL).train()
    images = _scenes(4).images[:, None]
    loss = model.loss(model(images), images)
    loss.total.backward()
    assert torch.isfinite(loss.total)
    for name in ("propose.2.weight", "encoder.2.weight", "embed.0.weight"):
        grad = dict(model.named_parameters())[name].grad
        assert grad is not None and grad.abs().sum() > 0, name


def test_the_decomposition_draws_each_step_and_boxes_the_objects():
    torch.manual_seed(0)
    model = create_model("air3d", initial_presence=0.9, **SMALL).eval()
    images = _scenes(2, counts=(2,)).images[:, None]
    scenes = model.decompose(images)
    assert scenes.present.shape == (2, 3) and scenes.outlines.shape == (2, 3, 4, 2)
    assert scenes.canvases.shape == (2, 3, 1, 16, 16)
    # the first canvas holds one object at most: it is dimmer than the last where all are found
    assert (
        scenes.canvases[:, 0].sum((1, 2, 3)) <= scenes.canvases[:, -1].sum((1, 2, 3)) + 1e-4
    ).all()


def test_a_bad_setting_is_refused_in_one_line():
    with pytest.raises(ValueError, match="estimator must be one of"):
        create_model("air3d", estimator="concrete")
    with pytest.raises(ValueError, match="gradient must be one of"):
        create_model("air3d", gradient="numerical")
    with pytest.raises(ValueError, match="greyscale"):
        create_model("air3d", channels=3)


def test_the_supervised_baseline_reads_identity_and_pose_and_refuses_crowded_scenes():
    from foveate.models.pose_cnn import PoseCNN
    from foveate.training.pose_regression import PoseRegressionModule

    torch.manual_seed(0)
    module = PoseRegressionModule(model="pose_cnn", model_args=dict(image_size=16, conv_width=4))
    scenes = _scenes(6, counts=(1,))
    batch = (
        scenes.images[:, None],
        {k: getattr(scenes, k) for k in ("count", "identity", "position", "rotation")},
    )
    losses = module.losses(batch)
    assert set(losses) == {"total", "identity", "position", "rotation"}
    metrics = module.batch_metrics(batch, "val")
    assert 0 <= metrics["identity_accuracy_pct"][0] <= 100
    crowded = _scenes(6, counts=(2,))
    truth = {k: getattr(crowded, k) for k in ("count", "identity", "position", "rotation")}
    with pytest.raises(ValueError, match="exactly one object"):
        module.losses((crowded.images[:, None], truth))
    # the symmetric target is the same for a cube's four equivalent poses
    model = PoseCNN(image_size=16, symmetric_rotation=True)
    turns = torch.tensor([0.3, 0.3 + math.pi / 2, 0.3 + math.pi, 0.3 - math.pi / 2])
    target = model.rotation_target(turns)
    torch.testing.assert_close(target, target[:1].expand(4, 2))


@pytest.mark.parametrize("name", ["air3d", "pose_cnn"])
def test_show_draws_what_each_model_found_on_the_plane(name, tmp_path):
    from foveate.data.rendered_scenes import as_batch
    from foveate.reports.poses import pose_grid

    torch.manual_seed(0)
    model = create_model(name, **({"image_size": 16} if name == "pose_cnn" else SMALL)).eval()
    images, truth = as_batch(_scenes(3, counts=(1,)))
    with torch.no_grad():
        poses = model.poses(images)
    assert poses.present[:, 0].dtype == torch.bool and poses.position.shape[-1] == 2
    path = pose_grid(tmp_path / "poses.png", images, poses, truth=truth)
    assert path.stat().st_size > 5_000


def test_the_silhouette_narrows_as_training_goes_and_evaluation_uses_the_final_one():
    model = create_model(
        "air3d", temperature=0.05, temperature_start=0.5, temperature_anneal=0.5, **SMALL
    )
    model.set_progress(0.0)
    assert model.current_temperature == pytest.approx(0.5)
    model.set_progress(0.25)
    assert model.current_temperature == pytest.approx(math.sqrt(0.5 * 0.05))  # half-way, in logs
    model.set_progress(0.9)
    assert model.current_temperature == pytest.approx(0.05)
    model.set_progress(0.0)
    images = _scenes(2, counts=(1,)).images[:, None]
    scene = Scene(
        torch.zeros(2, 1, dtype=torch.long),
        torch.zeros(2, 1, 2),
        torch.zeros(2, 1),
        torch.ones(2, 1, dtype=torch.bool),
    )
    wide = model.train().layers(scene).coverage
    sharp = model.eval().layers(scene).coverage
    assert (wide > 0.01).sum() > (sharp > 0.01).sum()  # the wide silhouette reaches further
    assert images.shape[-1] == wide.shape[-1]


def test_bounded_identity_logits_keep_every_identity_possible():
    torch.manual_seed(0)
    model = create_model("air3d", identity_logit_bound=2.0, **SMALL)
    with torch.no_grad():
        model.encoder[-1].bias[:IDENTITIES] = torch.tensor([100.0, -100.0, 0.0])
    out = model(_scenes(2, counts=(1,)).images[:, None])
    assert out.identity_logits.abs().max() <= 2.0
    assert out.identity_logits.softmax(-1).min() > math.exp(-4) / 3 - 1e-6


def test_a_setting_of_zero_is_refused_where_none_means_off():
    for name in ("temperature_start", "identity_logit_bound"):
        with pytest.raises(ValueError, match=f"{name} must be positive"):
            create_model("air3d", **{name: 0.0})


def test_identity_is_held_uniform_through_its_warmup_in_training_only():
    torch.manual_seed(0)
    model = create_model("air3d", identity_warmup=0.5, **SMALL)
    with torch.no_grad():
        model.encoder[-1].bias[:IDENTITIES] = torch.tensor([3.0, -3.0, 0.0])
    images = _scenes(2, counts=(1,)).images[:, None]
    model.train().set_progress(0.2)
    held = model(images)
    assert held.identity_logits.abs().max() == 0.0  # uniform: every identity's pose trained
    assert model.loss(held, images).kl_identity.abs() < 1e-6
    model.set_progress(0.5)
    assert model(images).identity_logits.abs().max() > 1.0  # released
    model.set_progress(0.2)
    assert model.eval()(images).identity_logits.abs().max() > 1.0  # evaluation reads q itself
    with pytest.raises(ValueError, match="identity_warmup must be in"):
        create_model("air3d", identity_warmup=1.0)


def test_a_rotation_per_identity_is_drawn_for_the_identity_chosen():
    torch.manual_seed(0)
    model = create_model("air3d", rotation_per_identity=True, steps=2, **SMALL).eval()
    images = _scenes(5, counts=(1, 2)).images[:, None]
    out = model(images)
    assert out.each_rotation.shape == (5, 2, IDENTITIES)
    chosen = out.each_rotation.gather(-1, out.identity[..., None]).squeeze(-1)
    torch.testing.assert_close(out.rotation, chosen)
    assert (out.each_rotation_scale <= 0.5).all()
    shared = create_model("air3d", steps=2, **SMALL).eval()(images)
    assert shared.each_rotation.shape == (5, 2, 1)
    torch.testing.assert_close(shared.rotation, shared.each_rotation[..., 0])


def _gradients_with_and_without_rate(model, bias_gradient, monkeypatch):
    """For one scene, q(identity) set to about (0.98, 0.02, 0.0003) by the encoder's bias: the
    bound, the gradient ``bias_gradient()`` reads after a backward pass, the gradient of the
    proposal network (the rest) and q(identity), first as the model is, then (the bound, the
    gradient and the rest) with every share counted as 1, which turns any own rate off."""
    from foveate.models import air3d

    with torch.no_grad():
        model.encoder[-1].bias[:IDENTITIES] = torch.tensor([4.0, 0.0, -4.0])
    images = _scenes(1, counts=(1,)).images[:, None]  # one scene: each q(k) is one number
    noise = model.sample_noise(images)

    def gradients():
        model.zero_grad()
        out = model(images, noise)
        loss = model.loss(out, images)
        loss.total.backward()
        rest = torch.cat([p.grad.flatten() for p in model.propose.parameters()])
        share = out.identity_logits.softmax(-1).detach()[0, 0]
        return loss.total.detach(), bias_gradient().clone(), rest, share

    with_rate = gradients()
    monkeypatch.setattr(air3d, "MIN_IDENTITY_SHARE", 1.0)
    return with_rate, gradients()[:3]


def test_each_identitys_rotation_learns_at_its_own_rate_from_the_exact_bound(monkeypatch):
    """Under 'enumerate' the turn encoder's weights for identity k get the gradient of k's own
    term of the bound, q(k) divided out, so that an identity q nearly gave up learns its
    rotation as fast as the likeliest; the rest of the network gets the bound's gradient as it
    is, and the bound's value is unchanged."""
    torch.manual_seed(0)
    model = create_model(
        "air3d", rotation_per_identity=True, steps=1, estimator="enumerate", **SMALL
    ).train()
    (total, divided, rest, share), (plain_total, plain, plain_rest) = (
        _gradients_with_and_without_rate(
            model, lambda: model.turn_encoder[-1].bias.grad, monkeypatch
        )
    )
    torch.testing.assert_close(total, plain_total)
    assert share[2] < 0.01  # q all but gave up the cylinder
    rate = share.clamp(min=1e-3).repeat(2)  # at most a thousandfold
    torch.testing.assert_close(divided, plain / rate, rtol=1e-4, atol=1e-7)
    torch.testing.assert_close(rest, plain_rest)  # position and LSTM: the bound's gradient
    assert divided[2].abs() > 0


@pytest.mark.parametrize("per_identity", [False, True])
def test_a_symmetric_rotation_is_read_from_a_vector_modulo_its_turn(per_identity):
    torch.manual_seed(0)
    model = create_model(
        "air3d", rotation_symmetry=4, rotation_per_identity=per_identity, steps=2, **SMALL
    )
    images = _scenes(6, counts=(1, 2)).images[:, None]
    out = model.eval()(images)
    assert (out.each_rotation_loc.abs() <= math.pi / 4 + 1e-6).all()  # within an eighth turn
    assert out.each_rotation_loc.std() > 0  # it varies with the image
    loss = model.train().loss(model(images), images)
    loss.total.backward()
    turns = model.turn_encoder if per_identity else model.encoder
    assert turns[-1].weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="rotation_symmetry"):
        create_model("air3d", rotation_symmetry=0)


def test_q_theta_stays_within_its_configured_deviation():
    torch.manual_seed(0)
    model = create_model("air3d", rotation_std_max=0.05, rotation_per_identity=True, **SMALL)
    with torch.no_grad():
        model.turn_encoder[-1].bias.fill_(5.0)  # a network asking for a wide q(theta)
    out = model(_scenes(4, counts=(1,)).images[:, None])
    assert out.each_rotation_scale.max() <= 0.05
    with pytest.raises(ValueError, match="rotation_std_max"):
        create_model("air3d", rotation_std_max=0.0)


def test_the_rotation_search_finds_a_cubes_rotation_modulo_a_quarter_turn():
    """A cube rendered at a known rotation, position given: the grid and the golden section
    find the rotation to within a degree (modulo a quarter turn); the forward pass puts it in
    q(theta)'s mean for every identity, in training and in evaluation alike."""
    truth = torch.tensor([0.1, 0.5, 0.9, 1.3, 2.0, -0.7])
    position = torch.tensor(
        [[0.0, 0.0], [0.5, -0.4], [-0.6, 0.3], [0.2, 0.6], [-0.3, -0.5], [0.7, 0.1]]
    )
    cubes = Scene(
        identity=torch.zeros(6, 1, dtype=torch.long),
        position=position[:, None],
        rotation=truth[:, None],
        present=torch.ones(6, 1, dtype=torch.bool),
    )
    model = create_model(
        "air3d", rotation_search=4, rotation_refine=10, steps=1, **{**SMALL, "image_size": 32}
    ).eval()
    images = composite(render_objects(cubes, size=32, temperature=model.temperature, steps=12))
    found = model.search_rotation(images, position)
    error = rotation_error(found, truth)  # modulo a quarter turn, radians
    assert error.abs().max() < math.radians(1.0), error
    out = model(images)
    searched = model.search_rotation(images, out.z_where[:, 0])
    torch.testing.assert_close(out.rotation_loc[:, 0], searched)
    model.train()
    out = model(images)
    torch.testing.assert_close(
        out.each_rotation_loc[:, 0, 0], model.search_rotation(images, out.z_where[:, 0])
    )
    with pytest.raises(ValueError, match="rotation_search"):
        create_model("air3d", rotation_search=-1)


def test_an_identity_q_gave_up_gets_its_own_advantage_from_the_exact_bound(monkeypatch):
    """With ``identity_own_rate`` the encoder's weights get identity k's share of the bound's
    gradient divided by q(k): the bias of a logit q all but gave up moves as far as the
    likeliest's; the bound's value and what reaches the rest of the network are unchanged."""
    torch.manual_seed(0)
    model = create_model(
        "air3d", identity_own_rate=True, steps=1, estimator="enumerate", **SMALL
    ).train()
    (total, divided, rest, share), (plain_total, plain, plain_rest) = (
        _gradients_with_and_without_rate(
            model, lambda: model.encoder[-1].bias.grad[:IDENTITIES], monkeypatch
        )
    )
    torch.testing.assert_close(total, plain_total)
    assert share[2] < 0.01
    torch.testing.assert_close(divided, plain / share.clamp(min=1e-3), rtol=1e-4, atol=1e-7)
    torch.testing.assert_close(rest, plain_rest)
    assert divided[2].abs() > 10 * plain[2].abs()
