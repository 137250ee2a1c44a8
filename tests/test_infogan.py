"""InfoGAN and the plain GAN: shapes, the information bound on known answers, which player each
term trains, the two optimisers, the data with hidden labels, a tiny run end to end, the
measurements of the codes on known answers, their evaluations and figures."""

import csv
import itertools
import math
from pathlib import Path

import lightning as L
import pytest
import torch
import yaml
from safetensors.torch import save_model
from torch.distributions import OneHotCategorical

import foveate
from foveate.bench.evaluations import EVALUATIONS
from foveate.data.few_labels import (
    UNKNOWN,
    FewLabelsDataModule,
    labelled_subset,
    shift_images,
)
from foveate.models import create_model
from foveate.models.infogan import (
    TINY,
    Codes,
    HasCodes,
    InfoGAN,
    code_information,
    information_bound,
    paired_information,
)
from foveate.models.interface import Generative, Model
from foveate.reports.codes import (
    best_assignment,
    classifier_features,
    conditional_purity,
    confusion_counts,
    frechet_distance,
    gaussian_frechet_distance,
    matched_accuracy,
    ranks,
    slant,
    spearman,
    sweep_correlations,
    width,
)
from foveate.training.adversarial import AdversarialModule
from foveate.training.checks import first_batch, tiny_config
from foveate.training.config import RunConfig
from foveate.training.fit import build

LN10 = math.log(10)


def digits(n=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, 28, 28, generator=g)


# The model.


@pytest.mark.parametrize("name", ["infogan", "gan"])
def test_shapes_and_capabilities(name):
    torch.manual_seed(0)
    model = create_model(name, **TINY)
    assert isinstance(model, Model) and isinstance(model, Generative)
    assert isinstance(model, HasCodes)
    x = digits()
    latent = model.sample_noise(x)
    assert latent.shape == (8, 4 + 3 + 2)
    noise, codes = model.split_latent(latent)
    assert noise.shape == (8, 4) and codes.categorical.shape == (8, 3)
    assert codes.continuous.shape == (8, 2) and codes.continuous.abs().max() <= 1
    assert torch.equal(codes.categorical.sum(-1), torch.ones(8))
    fake = model.generate_with_codes(noise, codes)
    assert fake.shape == x.shape and 0 <= fake.min() and fake.max() <= 1
    posterior = model.infer_codes(x)
    assert posterior.categorical.probs.shape == (8, 3)
    assert posterior.continuous.mean.shape == (8, 2)
    logits, features = model.discriminate(x)
    assert logits.shape == (8,) and features.shape == (8, 16)
    assert model.generate(5).canvases.shape == (5, 1, 1, 28, 28)
    loss = model.loss(model(x, latent))
    assert loss.total.dim() == 0 and torch.isfinite(loss.total)


def test_the_paper_sizes_are_the_defaults():
    model = InfoGAN()
    assert (model.noise_size, model.categories, model.continuous_codes) == (62, 10, 2)
    fc = [m for m in model.generator.modules() if isinstance(m, torch.nn.Linear)]
    assert [m.out_features for m in fc] == [1024, 7 * 7 * 128]
    convs = [m for m in model.trunk.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [(m.out_channels, m.kernel_size, m.stride) for m in convs] == [
        (64, (4, 4), (2, 2)),
        (128, (4, 4), (2, 2)),
    ]
    assert model.Q.layers[0].out_features == 128 and model.Q.layers[-1].out_features == 12
    images = model.generate(4).canvases[:, 0]
    assert images.shape == (4, 1, 28, 28)


def test_the_registered_names_fix_who_the_information_term_reaches():
    assert create_model("infogan", **TINY).information_to_players
    assert not create_model("gan", **TINY).information_to_players
    with pytest.raises(ValueError, match="fixes information_to_players"):
        create_model("gan", information_to_players=True, **TINY)
    with pytest.raises(ValueError, match="multiple of 4"):
        InfoGAN(image_size=30)


# The information bound (eq. 4, 5).


def test_the_bound_is_at_most_the_entropy_of_c1_and_reaches_it_for_a_perfect_q():
    g = torch.Generator().manual_seed(0)
    prior = OneHotCategorical(probs=torch.full((10,), 0.1))
    codes = torch.nn.functional.one_hot(torch.randint(10, (500,), generator=g), 10).float()
    assert prior.entropy().item() == pytest.approx(LN10)
    # Any Q: log Q(c|x) <= 0, so L_I <= H(c) = ln 10.
    guess = OneHotCategorical(logits=torch.randn(500, 10, generator=g))
    assert (information_bound(guess, codes, prior) <= LN10 + 1e-6).all()
    # A Q that puts all its mass on the code each image was drawn with: L_I = H(c).
    perfect = OneHotCategorical(logits=50.0 * codes)
    assert information_bound(perfect, codes, prior).mean().item() == pytest.approx(LN10, abs=1e-6)
    # A Q that says nothing (uniform): L_I = 0.
    blind = OneHotCategorical(logits=torch.zeros(500, 10))
    assert information_bound(blind, codes, prior).abs().max().item() < 1e-6


def test_the_model_reports_the_bound_of_c1_below_ln_k():
    torch.manual_seed(0)
    model = create_model("infogan", **TINY)
    loss = model.loss(model(digits()))
    assert torch.isfinite(loss.mi_bound_nats) and loss.mi_bound_nats.item() <= math.log(3)


def test_code_information_known_answers():
    sure_and_even = torch.eye(10).repeat(3, 1)
    assert code_information(sure_and_even).item() == pytest.approx(LN10, abs=1e-5)
    same_for_all = torch.full((30, 10), 0.1)
    assert code_information(same_for_all).item() == pytest.approx(0.0, abs=1e-6)
    one_value = torch.zeros(30, 10)
    one_value[:, 3] = 1
    assert code_information(one_value).item() == pytest.approx(0.0, abs=1e-6)


def test_paired_information_known_answers():
    sure_and_even = torch.eye(10).repeat(3, 1)
    assert paired_information(sure_and_even, sure_and_even).item() == pytest.approx(LN10, abs=1e-5)
    # the moved reading says nothing of the first: independent pairs
    uniform = torch.full((30, 10), 0.1)
    assert paired_information(sure_and_even, uniform).item() == pytest.approx(0.0, abs=1e-6)
    # sure and alike, but two values only: ln 2; and the pair read either way round is the same
    two = torch.eye(10)[torch.tensor([0, 1] * 15)]
    assert paired_information(two, two).item() == pytest.approx(math.log(2), abs=1e-5)
    generator = torch.Generator().manual_seed(0)
    p, q = (torch.randn(30, 10, generator=generator).mul(3).softmax(-1) for _ in range(2))
    # float rounding of the two sums' orders differs: equal to a nano-nat, not to the last bit
    assert paired_information(p, q).item() == pytest.approx(
        paired_information(q, p).item(), abs=1e-9
    )
    assert 0 <= paired_information(p, q).item() <= LN10


def test_the_paired_information_consistency_trains_both_readings():
    torch.manual_seed(0)
    x = digits()
    with pytest.raises(ValueError, match="consistency_measure"):
        create_model("infogan", **TINY, consistency_measure="cosine")
    model = create_model(
        "infogan",
        **TINY,
        consistency_weight=0.5,
        consistency_jitter=0.2,
        consistency_measure="paired_information",
    )
    noise, codes = model.draw_latents(8)
    fake = model.generate_with_codes(noise, codes)
    d = model.discriminator_loss(x, fake, codes)
    real = model.Q(d.real_features).categorical.probs
    moved = model.Q(d.moved_features).categorical.probs
    expected = -0.5 * paired_information(real, moved)
    assert d.consistency.item() == pytest.approx(expected.item(), rel=1e-5)
    assert _grads(model, d.consistency) == {"G": False, "D": True, "D head": False, "Q": True}
    # unlike the KL, the reading of the image as it is is trained too
    model.zero_grad(set_to_none=True)
    features = d.real_features.detach().requires_grad_(True)
    term = model.consistency_term(model.Q(features), model.Q(d.moved_features.detach()))
    term.backward()
    assert features.grad.abs().sum() > 0
    g = model.generator_loss(fake, codes, d.real_features, None, d.moved_features)
    assert g.consistency.item() == pytest.approx(expected.item(), rel=1e-5)
    assert _grads(model, g.consistency) == {"G": False, "D": False, "D head": False, "Q": True}


# Which parameters each term trains.


def _grads(model, loss):
    model.zero_grad(set_to_none=True)
    loss.backward(retain_graph=True)
    parts = {
        "G": model.generator,
        "D": model.trunk,
        "D head": model.discriminator_head,
        "Q": model.Q,
    }
    return {
        name: any(p.grad is not None and p.grad.abs().sum() > 0 for p in part.parameters())
        for name, part in parts.items()
    }


@pytest.mark.parametrize("name", ["infogan", "gan"])
def test_the_information_term_reaches_g_and_d_only_in_infogan(name):
    torch.manual_seed(0)
    model = create_model(name, **TINY)
    x = digits()
    noise, codes = model.draw_latents(8)
    fake = model.generate_with_codes(noise, codes)
    g = model.generator_loss(fake, codes)
    reached = _grads(model, g.information)
    info = name == "infogan"
    assert reached == {"G": info, "D": info, "D head": False, "Q": True}
    d = model.discriminator_loss(x, fake, codes)
    if info:  # D's step trains its shared layers as part of Q; never G, nor D's head
        assert _grads(model, d.information) == {"G": False, "D": True, "D head": False, "Q": True}
    else:
        assert d.information.item() == 0 and not d.information.requires_grad
    # The adversarial terms: D's reaches D (never G: G's images are held fixed); G's reaches G.
    assert _grads(model, d.adversarial) == {"G": False, "D": True, "D head": True, "Q": False}
    assert _grads(model, g.adversarial)["G"]


@pytest.mark.parametrize("name", ["infogan", "gan"])
def test_the_supervised_term_trains_q_on_labelled_rows_only(name):
    torch.manual_seed(0)
    model = create_model(name, **TINY)
    x = digits()
    noise, codes = model.draw_latents(8)
    fake = model.generate_with_codes(noise, codes)
    unknown = torch.full((8,), UNKNOWN)
    d = model.discriminator_loss(x, fake, codes, unknown)
    assert d.supervised.item() == 0
    g = model.generator_loss(fake, codes, d.real_features, unknown)
    assert g.supervised.item() == 0
    labels = unknown.clone()
    labels[:2] = torch.tensor([0, 2])
    g = model.generator_loss(fake, codes, d.real_features, labels)
    # Q over the whole batch (its batch norm normalises by the batch), read on the known rows
    log_q = model.Q(d.real_features).categorical.logits.log_softmax(-1)
    expected = -(log_q[0, 0] + log_q[1, 2]) / 2
    assert g.supervised.item() == pytest.approx(expected.item(), rel=1e-5)
    assert _grads(model, g.supervised) == {"G": False, "D": False, "D head": False, "Q": True}
    d = model.discriminator_loss(x, fake, codes, labels)
    assert (d.supervised.item() > 0) == (name == "infogan")


def test_the_clustering_term_is_q_s_information_over_real_images_and_reaches_d_and_q():
    torch.manual_seed(0)
    x = digits()
    assert create_model("infogan", **TINY).real_information_weight == 0  # [1] has none
    model = create_model("infogan", **TINY, real_information_weight=0.5)
    noise, codes = model.draw_latents(8)
    fake = model.generate_with_codes(noise, codes)
    d = model.discriminator_loss(x, fake, codes)
    expected = -0.5 * code_information(model.Q(d.real_features).categorical.probs)
    assert d.clustering.item() == pytest.approx(expected.item(), rel=1e-5)
    assert d.total.item() == pytest.approx(
        (d.adversarial + d.information + d.supervised + d.clustering).item(), rel=1e-6
    )
    assert _grads(model, d.clustering) == {"G": False, "D": True, "D head": False, "Q": True}
    g = model.generator_loss(fake, codes, d.real_features)
    assert g.clustering.item() == pytest.approx(expected.item(), rel=1e-5)
    assert _grads(model, g.clustering) == {"G": False, "D": False, "D head": False, "Q": True}
    # the plain GAN's players never see it, nor does a model without the weight
    gan = create_model("gan", **TINY, real_information_weight=0.5)
    assert gan.discriminator_loss(x, fake, codes).clustering.item() == 0
    plain = create_model("infogan", **TINY)
    assert plain.discriminator_loss(x, fake, codes).clustering.item() == 0


def test_the_consistency_term_is_q_s_divergence_between_an_image_and_it_moved():
    torch.manual_seed(0)
    x = digits()
    assert create_model("infogan", **TINY).consistency_weight == 0  # [1] has none
    model = create_model("infogan", **TINY, consistency_weight=0.5, consistency_jitter=0.2)
    noise, codes = model.draw_latents(8)
    fake = model.generate_with_codes(noise, codes)
    d = model.discriminator_loss(x, fake, codes)
    real = model.Q(d.real_features).categorical
    moved = model.Q(d.moved_features).categorical
    expected = 0.5 * torch.distributions.kl_divergence(real, moved).mean()
    # Two formulas of one small divergence (about 1e-4 nats) differ by float32 rounding.
    assert d.consistency.item() == pytest.approx(expected.item(), rel=1e-4, abs=1e-7)
    assert d.consistency.item() > 0  # the moved images are read otherwise by an untrained Q
    assert d.total.item() == pytest.approx(
        (d.adversarial + d.information + d.supervised + d.clustering + d.consistency).item(),
        rel=1e-6,
    )
    # The image as it is is the target, held fixed: only the moved one's reading is pulled.
    assert _grads(model, d.consistency) == {"G": False, "D": True, "D head": False, "Q": True}
    g = model.generator_loss(fake, codes, d.real_features, None, d.moved_features)
    assert g.consistency.item() == pytest.approx(expected.item(), rel=1e-4, abs=1e-7)
    assert _grads(model, g.consistency) == {"G": False, "D": False, "D head": False, "Q": True}
    # The same posterior on both sides: no divergence.
    assert model.consistency_term(model.Q(d.real_features), model.Q(d.real_features)).item() == (
        pytest.approx(0.0, abs=1e-6)
    )
    # The plain GAN's players never see it.
    gan = create_model("gan", **TINY, consistency_weight=0.5)
    assert gan.discriminator_loss(x, fake, codes).consistency.item() == 0
    with pytest.raises(ValueError, match="consistency_jitter"):
        create_model("infogan", **TINY, consistency_jitter=1.5)


def test_the_adversarial_move_is_of_norm_epsilon_and_changes_q_more_than_a_random_one():
    torch.manual_seed(0)
    x = digits()
    model = create_model(
        "infogan",
        **TINY,
        consistency_weight=1.0,
        consistency_move="adversarial",
        adversarial_epsilon=1.5,
    ).eval()  # batch norm's running statistics: each image read on its own

    def reading(images):
        return model.Q(model.trunk(images)).categorical

    with torch.no_grad():
        posterior = model.Q(model.trunk(x))
        real = posterior.categorical
    moved = model.moved(x, posterior)
    assert not moved.requires_grad  # a constant: its finding trains nothing
    norms = (moved - x).flatten(1).norm(dim=1)
    torch.testing.assert_close(norms, torch.full_like(norms, 1.5))
    with torch.no_grad():
        adversarial = torch.distributions.kl_divergence(real, reading(moved))
        random_moves = []
        for _ in range(20):
            d = torch.randn_like(x)
            d = 1.5 * d / d.flatten(1).norm(dim=1).view(-1, 1, 1, 1)
            random_moves.append(torch.distributions.kl_divergence(real, reading(x + d)))
        random = torch.stack(random_moves).mean(0)
    with torch.inference_mode():  # as Lightning validates and tests
        again = model.moved(x, model.Q(model.trunk(x)))
    torch.testing.assert_close((again - x).flatten(1).norm(dim=1), norms)
    # [5]: the power iteration finds a direction far worse for Q than chance's
    assert (adversarial > random).float().mean() >= 0.75
    assert adversarial.mean() > 3 * random.mean()
    with pytest.raises(ValueError, match="consistency_move"):
        create_model("infogan", **TINY, consistency_move="rotate")
    with pytest.raises(ValueError, match="adversarial_epsilon"):
        create_model("infogan", **TINY, adversarial_epsilon=0.0)


def test_the_discriminator_reads_the_adversarially_moved_images_for_consistency():
    torch.manual_seed(0)
    x = digits()
    model = create_model("infogan", **TINY, consistency_weight=1.0, consistency_move="adversarial")
    noise, codes = model.draw_latents(8)
    d = model.discriminator_loss(x, model.generate_with_codes(noise, codes), codes)
    assert d.consistency.item() > 0 and d.moved_features is not None
    assert _grads(model, d.consistency) == {"G": False, "D": True, "D head": False, "Q": True}


def test_jitter_moves_images_within_its_range_and_none_at_zero():
    torch.manual_seed(0)
    x = digits()
    still = create_model("infogan", **TINY, consistency_jitter=0.0)
    assert torch.allclose(still.jitter(x), x, atol=1e-5)  # the identity window
    moving = create_model("infogan", **TINY, consistency_jitter=0.2)
    moved = moving.jitter(x)
    assert moved.shape == x.shape and not torch.allclose(moved, x, atol=1e-3)
    # A move of at most 0.2 half-widths (2.8 pixels) keeps the ink's centre within 3 pixels.
    columns = torch.arange(x.shape[-1], dtype=x.dtype)

    def centre(images):
        ink = images.sum((1, 2))  # (B, W)
        return (ink * columns).sum(-1) / ink.sum(-1)

    assert (centre(moved) - centre(x)).abs().max() < 3.5


def test_descending_the_clustering_term_makes_q_surer_and_evener_on_real_images():
    torch.manual_seed(0)
    model = create_model("infogan", **TINY, real_information_weight=1.0)
    x = digits()
    optimiser = torch.optim.Adam(model.Q.parameters(), lr=1e-2)
    with torch.no_grad():
        features = model.trunk(x)
    before = code_information(model.Q(features).categorical.probs).item()
    for _ in range(50):
        optimiser.zero_grad()
        model.clustering_term(model.Q(features)).backward()
        optimiser.step()
    after = code_information(model.Q(features).categorical.probs).item()
    assert after > before + 0.5 and after <= math.log(8) + 1e-4  # 8 images: at most ln 8


# The training module: two optimisers, each stepping its own player.


def test_the_two_optimisers_hold_the_players_and_their_learning_rates():
    _, module, _ = build(tiny_config("infogan"))
    opt_d, opt_g = module.configure_optimizers()
    d_params = {id(p) for group in opt_d.param_groups for p in group["params"]}
    g_params = {id(p) for group in opt_g.param_groups for p in group["params"]}
    assert not d_params & g_params
    assert d_params | g_params == {id(p) for p in module.model.parameters()}
    assert {id(p) for p in module.model.generator.parameters()} <= g_params
    assert {id(p) for p in module.model.Q.parameters()} <= g_params
    assert {id(p) for p in module.model.trunk.parameters()} <= d_params
    assert opt_d.param_groups[0]["lr"] == 2e-4 and opt_g.param_groups[0]["lr"] == 1e-3
    assert opt_d.param_groups[0]["betas"] == (0.5, 0.999)


def test_a_training_step_steps_each_optimiser_once_and_moves_every_parameter():
    torch.manual_seed(0)
    data, module, _ = build(tiny_config("infogan"))
    before = {k: p.detach().clone() for k, p in module.named_parameters()}
    trainer = L.Trainer(
        accelerator="cpu",
        max_steps=2,  # Lightning counts each optimiser's step: one batch
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
    )
    trainer.fit(module, datamodule=data)
    assert trainer.global_step == 2
    for name, parameter in module.named_parameters():
        assert not torch.equal(before[name], parameter), f"{name} did not move"
    opt_d, opt_g = trainer.optimizers
    steps = [int(state["step"]) for state in opt_d.state.values()]
    steps += [int(state["step"]) for state in opt_g.state.values()]
    assert set(steps) == {1}


def test_batch_losses_sum_both_players():
    torch.manual_seed(0)
    data, module, _ = build(tiny_config("infogan"))
    batch = first_batch(data)
    losses = module.batch_losses(batch)
    assert losses["total"].item() == pytest.approx(
        (losses["discriminator"] + losses["generator"]).item(), rel=1e-5
    )


# The data: labels hidden but for a few, the test's kept.


def test_labels_are_hidden_but_for_a_few_training_images_of_each_class():
    data = FewLabelsDataModule(sample=True, batch_size=32, labelled=20, labelled_per_batch=8)
    data.setup("fit")
    images, labels = next(iter(data.train_dataloader()))
    assert images.shape == (32, 1, 28, 28) and 0 <= images.min() and images.max() <= 1
    assert (labels[:24] == UNKNOWN).all() and (labels[24:] >= 0).all()
    _, val_labels = next(iter(data.val_dataloader()))
    assert (val_labels == UNKNOWN).all()
    _, test_labels = next(iter(data.test_dataloader()))
    assert (test_labels >= 0).all()
    # The labelled images are training digits (not validation ones), two of each class.
    train = data.datasets["train"]
    pool_images, pool_labels = train.labelled
    assert torch.equal(torch.bincount(pool_labels, minlength=10), torch.full((10,), 2))
    chosen = labelled_subset(train.batches.labels, 20, 10, seed=0)
    assert torch.equal(pool_labels, train.batches.labels[chosen])
    assert torch.equal(pool_images[:, 0], train.batches.digits[chosen].float() / 255)
    assert data.record() == {"dataset": "mnist", "labelled": 20}


def test_shift_images_moves_each_image_by_its_own_whole_pixels():
    images = torch.zeros(3, 1, 6, 7)
    images[:, 0, 2, 3] = 1.0  # one lit pixel at row 2, column 3
    moved = shift_images(images, torch.tensor([[0, 0], [2, 0], [-1, 3]]))
    lit = [tuple(int(i) for i in torch.nonzero(m[0])[0]) for m in moved]
    assert lit == [(2, 3), (2, 5), (5, 2)]  # (row, column): right by 2; left 1, down 3
    assert torch.equal(moved.sum((1, 2, 3)), torch.ones(3))  # nothing blurred or doubled
    # Moved out of the frame, the pixel is gone (zeros fill in).
    assert shift_images(images[:1], torch.tensor([[4, 0]])).sum() == 0


def test_labelled_images_are_moved_afresh_each_draw_and_unlabelled_ones_never():
    data = FewLabelsDataModule(
        sample=True, batch_size=32, labelled=10, labelled_per_batch=8, labelled_shift=2
    )
    data.setup("fit")
    plain = FewLabelsDataModule(sample=True, batch_size=32, labelled=10, labelled_per_batch=8)
    plain.setup("fit")
    torch.manual_seed(0)  # the loaders' shuffles alike
    images, labels = next(iter(data.train_dataloader()))
    torch.manual_seed(0)
    unmoved, _ = next(iter(plain.train_dataloader()))
    assert torch.equal(images[:24], unmoved[:24])  # the unlabelled rows as they are
    pool_images, pool_labels = data.datasets["train"].labelled
    # Each labelled row is some pool image of its digit moved by at most 2 pixels on each axis.
    for image, label in zip(images[24:], labels[24:], strict=True):
        candidates = [
            shift_images(pool_images[i : i + 1], torch.tensor([[dx, dy]]))[0]
            for i in torch.nonzero(pool_labels == label)[:, 0].tolist()
            for dx in range(-2, 3)
            for dy in range(-2, 3)
        ]
        assert any(torch.equal(image, c) for c in candidates)
    assert not all(
        any(torch.equal(image, p) for p in pool_images) for image in images[24:]
    )  # some were moved
    with pytest.raises(ValueError, match="labelled_shift"):
        FewLabelsDataModule(sample=True, labelled=10, labelled_shift=-1)


def test_without_labelled_images_no_training_label_is_seen():
    data = FewLabelsDataModule(sample=True, batch_size=16)
    data.setup("fit")
    for _, (_, labels) in zip(range(3), data.train_dataloader(), strict=False):
        assert (labels == UNKNOWN).all()
    with pytest.raises(ValueError, match="multiple of the 10 classes"):
        labelled_subset(torch.arange(100) % 10, 15, 10, seed=0)


# A tiny run end to end, on the shipped digits.


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("infogan")
    config = {
        "model": "infogan",
        "model_args": {**TINY, "categories": 10},  # as many values as digits, for the labels
        "data": {
            "sample": True,
            "batch_size": 16,
            "eval_batch_size": 250,
            "labelled": 10,
            "labelled_per_batch": 4,
        },
        "trainer": {
            "max_epochs": 1,
            "limit_train_batches": 60,
            "progress_bar": False,
            "threads": 1,
        },
    }
    summary = foveate.train(config, root / "run")
    return root, summary


def test_a_tiny_run_trains_tests_and_reports_through_the_harness(tiny_run):
    root, summary = tiny_run
    assert 0 <= summary["test_code_accuracy_pct"] <= 100
    assert 0 <= summary["test_code_accuracy_unmatched_pct"] <= 100
    assert summary["test_mi_bound_nats"] <= LN10 + 1e-6
    assert summary["summary"].startswith("c1 names")
    assert "best_val_mi_bound_nats" in summary
    # The bound's curve is logged against generator steps (every 50 batches).
    with open(root / "run" / "metrics.csv", newline="") as file:
        rows = [r for r in csv.DictReader(file) if r.get("train/generator_steps")]
    assert [float(r["train/generator_steps"]) for r in rows] == [50.0]
    assert float(rows[0]["train/mi_bound_nats"]) <= LN10 + 1e-6


def test_eval_and_show_read_the_tiny_run(tiny_run, tmp_path):
    from foveate.reports.show import show_checkpoint

    root, summary = tiny_run
    tested = foveate.evaluate(summary["best_checkpoint"])
    assert "test_code_accuracy_pct" in tested
    figures = show_checkpoint(summary["best_checkpoint"], tmp_path, images=4)
    names = {p.name for p in figures}
    assert {"codes_c1.png", "codes_c2.png", "codes_c3.png", "codes_sweep.gif"} <= names
    assert {"samples.png", "drawing.gif"} <= names  # every Generative model's
    assert all(p.stat().st_size > 1_000 for p in figures)


def test_the_training_module_warns_of_a_flat_bound_and_of_collapse(tiny_run):
    _, summary = tiny_run
    module = AdversarialModule.load_from_checkpoint(summary["best_checkpoint"], weights_only=False)
    trainer = L.Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False)
    data = FewLabelsDataModule(sample=True, eval_batch_size=250)
    module.model.generator.deconvolutions[-1].weight.data.zero_()  # every image alike
    module.model.generator.deconvolutions[-1].bias.data.zero_()
    with pytest.warns(UserWarning, match="mode collapse"):
        (validated,) = trainer.validate(module, datamodule=data, verbose=False)
    assert validated["val_mode_collapse"] == 1.0 and validated["val_diversity_ratio"] < 0.01
    # Identical images carry nothing of c1: the bound is flat too.
    assert validated["val_flat_information"] == 1.0


def _tiny_classifier(path: Path) -> Path:
    """A tiny untrained CNN's weights, written as the runner exports a benchmark's."""
    torch.manual_seed(0)
    args = {"image_size": 28, "conv_width": 4, "hidden_size": 16}
    classifier = create_model("cnn", **args)
    config = RunConfig.from_dict({"model": "cnn", "model_args": args})
    resolved = yaml.safe_dump(config.as_dict(), sort_keys=False)
    save_model(classifier, str(path), metadata={"foveate_config": resolved})
    return path


def test_the_evaluations_of_codes_run_on_the_tiny_run(tiny_run, tmp_path):
    root, summary = tiny_run
    checkpoint = summary["best_checkpoint"]
    config = foveate.load_config(checkpoint)
    classifier = str(_tiny_classifier(tmp_path / "cnn.safetensors"))
    purity = EVALUATIONS["code_purity"](checkpoint, config, classifier=classifier, images=300)
    assert 10 - 1e-6 <= purity["purity_pct"] <= 100
    assert purity["purity_pct_lowest_value"] <= purity["purity_pct"]
    sweeps = EVALUATIONS["code_sweeps"](checkpoint, config, rows=10, steps=5)
    assert {"slant_rank_correlation", "width_rank_correlation", "slant_code"} <= set(sweeps)
    assert 0 <= sweeps["slant_rank_correlation"] <= 1 and sweeps["width_code"] in (2, 3)
    assert "slant_rank_correlation_prior_range_c3" in sweeps
    fd = EVALUATIONS["frechet_distance"](checkpoint, config, classifier=classifier, images=300)
    assert fd["frechet_distance"] > 0
    # The run logged its bound at 50 generator steps only.
    at = EVALUATIONS["mi_bound_at_steps"](checkpoint, config, steps=50, window=50)
    assert at["mi_bound_nats_at_50_steps"] <= LN10 + 1e-4
    assert EVALUATIONS["mi_bound_at_steps"](checkpoint, config, steps=2000) == {}
    # The best matching names at least as many digits as reading value k as digit k.
    val = EVALUATIONS["validation_code_accuracy"](checkpoint, config)
    assert 0 <= val["val_code_accuracy_unmatched_pct"] <= val["val_code_accuracy_pct"] <= 100
    assert val["val_code_accuracy_pct"] >= 10 - 1e-6  # the matching's floor with ten classes
    with pytest.raises(FileNotFoundError, match="foveate bench cnn_mnist"):
        EVALUATIONS["code_purity"](
            checkpoint, config, classifier=str(tmp_path / "none.safetensors")
        )


def test_mi_bound_at_steps_averages_the_logged_window(tmp_path):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    with open(run / "metrics.csv", "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["epoch", "step", "train/generator_steps", "train/mi_bound_nats", "val_x"])
        for step in range(50, 2501, 50):
            writer.writerow([0, step - 1, step, step / 1000, ""])
        writer.writerow([0, 2500, "", "", 1.0])  # a validation row
        writer.writerow([0, 2510, 2000, 2.0, ""])  # the last values, written again at the stop
    found = EVALUATIONS["mi_bound_at_steps"](run / "checkpoints" / "best.ckpt", None)
    # the values logged at 1800, 1850, ..., 2000 steps: 1.8 .. 2.0, mean 1.9
    assert found == {"mi_bound_nats_at_2000_steps": pytest.approx(1.9)}


# The measurements, on known answers.


def bar(angle_rows: int, size: int = 28) -> torch.Tensor:
    """A one-pixel bar down the middle rows 4..23 whose column moves by +1 every
    ``angle_rows`` rows upwards (0: upright)."""
    image = torch.zeros(1, 1, size, size)
    for row in range(4, 24):
        shift = 0 if angle_rows == 0 else (23 - row) // angle_rows
        image[0, 0, row, 10 + shift] = 1
    return image


def test_slant_of_a_bar_leaning_right_is_positive_and_of_an_upright_one_zero():
    assert slant(bar(0)).item() == pytest.approx(0.0, abs=1e-6)
    right = slant(bar(2)).item()
    assert right == pytest.approx(0.5, abs=0.05)  # one pixel right for two up
    assert slant(bar(2).flip(-1)).item() == pytest.approx(-right, abs=1e-6)  # mirrored: leans left


def test_width_grows_with_the_ink_spread_along_x():
    narrow = torch.zeros(1, 1, 28, 28)
    narrow[..., 4:24, 13:15] = 1
    wide = torch.zeros(1, 1, 28, 28)
    wide[..., 4:24, 8:20] = 1
    assert width(narrow).item() == pytest.approx(0.5, abs=1e-6)  # two columns, +-0.5 px
    assert width(wide).item() == pytest.approx(math.sqrt((12**2 - 1) / 12), abs=1e-5)


def test_spearman_and_ranks_known_answers():
    x = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
    assert spearman(x, x**3).item() == pytest.approx(1.0)
    assert spearman(x, -x).item() == pytest.approx(-1.0)
    assert torch.equal(
        ranks(torch.tensor([3.0, 1.0, 3.0, 2.0])), torch.tensor([3.5, 1.0, 3.5, 2.0])
    )
    # Ranks 1 2 3 4 against 2 1 4 3: 1 - 6 sum d^2 / (n (n^2 - 1)) = 1 - 24 / 60.
    assert spearman(x, torch.tensor([[2.0, 1.0, 4.0, 3.0]])).item() == pytest.approx(0.6)


def test_matching_a_permuted_assignment_names_every_image():
    labels = torch.arange(10).repeat(30)
    permutation = torch.randperm(10, generator=torch.Generator().manual_seed(0))
    codes = permutation[labels]
    counts = confusion_counts(codes, labels, 10, 10)
    accuracy, assigned = matched_accuracy(counts)
    assert accuracy == 100.0
    assert [assigned[int(permutation[d])] for d in range(10)] == list(range(10))


def test_best_assignment_agrees_with_brute_force():
    g = torch.Generator().manual_seed(1)
    for rows, cols in ((5, 5), (4, 6), (6, 4)):
        counts = torch.randint(0, 50, (rows, cols), generator=g)
        assigned = best_assignment(counts)
        score = sum(int(counts[r, c]) for r, c in enumerate(assigned) if c >= 0)
        if rows <= cols:
            best = max(
                sum(int(counts[r, c]) for r, c in enumerate(p))
                for p in itertools.permutations(range(cols), rows)
            )
        else:
            best = max(
                sum(int(counts[r, c]) for c, r in enumerate(p))
                for p in itertools.permutations(range(rows), cols)
            )
        assert score == best
        taken = [c for c in assigned if c >= 0]
        assert len(taken) == len(set(taken)) == min(rows, cols)


def test_frechet_distance_known_answers():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(4000, 5, generator=g)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    shift = torch.tensor([1.0, -2.0, 0.0, 0.5, 3.0])
    assert frechet_distance(a + shift, a) == pytest.approx(float(shift.pow(2).sum()), abs=1e-6)
    # Diagonal covariances: sum (sqrt(s_a) - sqrt(s_b))^2.
    m = torch.zeros(3)
    s_a, s_b = torch.tensor([1.0, 4.0, 9.0]), torch.tensor([4.0, 4.0, 1.0])
    expected = float((s_a.sqrt() - s_b.sqrt()).pow(2).sum())
    distance = gaussian_frechet_distance(m, torch.diag(s_a), m, torch.diag(s_b))
    assert distance == pytest.approx(expected, abs=1e-9)


def test_classifier_features_are_the_input_of_its_last_layer():
    torch.manual_seed(0)
    classifier = create_model("cnn", image_size=28, conv_width=4, hidden_size=16).eval()
    x = digits(5)
    features, logits = classifier_features(classifier, x, batch_size=2)
    assert features.shape == (5, 16) and logits.shape == (5, 10)
    torch.testing.assert_close(classifier.classifier.classify(features), logits)


class _Oracle(torch.nn.Module):
    """A generator whose image of c1 = k is the digit bar k columns over, and whose c2 slants it:
    known answers for purity and the sweeps."""

    categories, continuous_codes = 3, 2

    def draw_latents(self, count, *, generator=None):
        values = torch.randint(3, (count,), generator=generator)
        codes = Codes(torch.eye(3)[values], torch.rand(count, 2, generator=generator) * 2 - 1)
        return torch.zeros(count, 1), codes

    def generate_with_codes(self, noise, codes):
        images = torch.zeros(len(noise), 1, 28, 28)
        rows = torch.arange(4, 24)
        for i, (k, c) in enumerate(
            zip(codes.categorical.argmax(-1), codes.continuous, strict=True)
        ):
            shear = (float(c[0]) * (23 - rows) / 4).round().long()
            images[i, 0, rows, 6 + 6 * int(k) + shear] = 1
        return images

    def infer_codes(self, images):
        raise NotImplementedError


class _ColumnClassifier(torch.nn.Module):
    """Names an image by where its ink is: columns 6, 12, 18 -> classes 2, 0, 1."""

    def forward(self, images):
        column = (images[:, 0].sum(1) * torch.arange(28)).sum(-1) / images[:, 0].sum((1, 2))
        k = ((column - 6) / 6).round().long().clamp(0, 2)
        return torch.nn.functional.one_hot(torch.tensor([2, 0, 1])[k], 3).float()


def test_purity_and_sweeps_on_a_generator_of_known_answers():
    oracle = _Oracle()
    assert isinstance(oracle, HasCodes)
    purity, per_value, assigned = conditional_purity(
        oracle, _ColumnClassifier(), count=60, batch_size=25, generator=torch.Generator()
    )
    assert purity == 100.0 and per_value.tolist() == [100.0] * 3 and assigned == [2, 0, 1]
    rho = sweep_correlations(oracle, low=-1, high=1, steps=5, rows=6)
    assert rho["slant"][0].item() == pytest.approx(1.0)  # c2 slants
    assert math.isnan(rho["slant"][1].item())  # c3 changes nothing: no ranks to correlate


def test_the_describe_line_names_the_accuracy_and_the_bound():
    line = AdversarialModule.describe(
        {
            "test_code_accuracy_pct": 50.0,
            "test_code_accuracy_unmatched_pct": 10.0,
            "test_mi_bound_nats": 2.0,
            "best_val_mi_bound_nats": 2.1,
        }
    )
    assert line.startswith("c1 names 50.00% of test digits once matched (10.00% unmatched)")
    assert "2 nats" in line and "best validation bound 2.100 nats" in line
