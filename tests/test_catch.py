"""The game of Catch: gymnasium's API, known dynamics, and an agent that learns to play."""

import gymnasium
import pytest
import torch
from gymnasium.utils.env_checker import check_env

from foveate.data.catch import CatchEnv, CatchVectorEnv
from foveate.data.games import GameBatch, GameDataModule
from foveate.models.ram_agent import RecurrentAttentionAgent
from foveate.training.games import play


def chase(env: CatchVectorEnv) -> torch.Tensor:
    """The move that brings the paddle's left pixel towards the column the ball will land in
    (the ball's flight played forward, bounces included)."""
    x, drift, wall = env.ball_x.clone(), env.drift.clone(), env.size - 1.0
    for _ in range(int(env.size - 1 - env.ball_y.max())):
        x = x + drift
        bounced = (x < 0) | (x > wall)
        x = torch.where(x < 0, -x, torch.where(x > wall, 2 * wall - x, x))
        drift = torch.where(bounced, -drift, drift)
    return torch.sign(x.round() - env.paddle_x).long() + 1


def test_one_game_passes_gymnasiums_checker_and_is_registered():
    check_env(CatchEnv(), skip_render_check=True)
    env = gymnasium.make("foveate/Catch-v0")
    screen, _ = env.reset(seed=3)
    assert screen.shape == (1, 24, 24) and screen.sum() == 3  # the ball and the paddle's two pixels
    games = gymnasium.make_vec(
        "foveate/Catch-v0", num_envs=4, vectorization_mode="vector_entry_point"
    )
    screens, _ = games.reset(seed=0)
    assert screens.shape == (4, 1, 24, 24)


def test_a_game_lasts_23_steps_and_a_chasing_paddle_catches_every_ball():
    env = CatchVectorEnv(500)
    env.reset(seed=0)
    for t in range(23):
        _, rewards, terminated, truncated, _ = env.step(chase(env))
        assert terminated.all() == (t == 22) and not truncated.any()
    assert rewards.sum() == 500


def test_a_still_paddle_catches_about_a_twelfth():
    env = CatchVectorEnv(20_000)
    env.reset(seed=1)
    for _ in range(23):
        _, rewards, *_ = env.step(torch.ones(20_000, dtype=torch.long))
    assert 0.04 < rewards.mean() < 0.13  # 2 pixels of 24, the ball's landing spread by its drift


def test_the_ball_falls_a_row_a_step_drifts_and_bounces_off_the_walls():
    env = CatchVectorEnv(1)
    env.reset(seed=0)
    env.ball_x, env.drift = torch.tensor([22.5]), torch.tensor([1.0])
    env.step(torch.tensor([1]))
    assert env.ball_y.item() == 2 - 1 and env.ball_x.item() == pytest.approx(22.5)  # 23.5 -> 22.5
    assert env.drift.item() == -1.0
    env.step(torch.tensor([1]))
    assert env.ball_x.item() == pytest.approx(21.5)


def test_the_next_step_after_the_end_starts_new_games_with_no_reward():
    env = CatchVectorEnv(3)
    env.reset(seed=2)
    for _ in range(23):
        env.step(chase(env))
    screens, rewards, terminated, _, _ = env.step(torch.ones(3, dtype=torch.long))
    assert (rewards == 0).all() and not terminated.any()
    assert (env.ball_y == 0).all() and screens[:, 0, 0].sum() == 3


def test_a_seed_fixes_the_games_and_bad_actions_are_refused():
    a, b = CatchVectorEnv(8), CatchVectorEnv(8)
    assert torch.equal(a.reset(seed=5)[0], b.reset(seed=5)[0])
    with pytest.raises(ValueError, match="actions must be"):
        a.step(torch.full((8,), 3))
    with pytest.raises(ValueError, match=r"\(8,\) actions"):
        a.step(torch.ones(2, dtype=torch.long))


def test_the_data_source_orders_fixed_held_out_games():
    data = GameDataModule(batch_size=16, batches_per_epoch=3, val_games=50, test_games=40)
    data.setup("fit")
    train = list(data.train_dataloader())
    assert len(train) == 3 and all(len(b.games) == 16 for b in train)
    (val,) = list(data.val_dataloader())
    (test,) = list(data.test_dataloader())
    assert (len(val.games), len(test.games)) == (50, 40) and val.seed != test.seed
    assert not {b.seed for b in train} & {val.seed, test.seed}
    assert data.model_defaults() == {"num_actions": 3, "channels": 1}


def test_a_played_episode_is_one_batch_of_steps_and_reproducible():
    torch.manual_seed(0)
    agent = RecurrentAttentionAgent(hidden_size=16, what_size=8, where_size=8, glimpse_size=16)
    batch = GameBatch(torch.arange(6), 11, CatchVectorEnv)
    first, screens = play(agent, batch, record=True)
    again, _ = play(agent, batch)
    assert first.actions.shape == (6, 23) and screens.shape == (6, 23, 1, 24, 24)
    assert torch.equal(first.actions, again.actions) and torch.equal(first.returns, again.returns)
    assert first.alive.all()
    loss = agent.loss(first)
    loss.total.backward()
    assert agent.core_network.cell.weight_ih.grad.abs().sum() > 0  # REINFORCE trains the core


@pytest.mark.slow
def test_an_agent_learns_to_catch_better_than_chance():
    """Four hundred steps of REINFORCE on a 10x10 screen (9 steps a game) beat a still paddle."""
    torch.manual_seed(0)
    agent = RecurrentAttentionAgent(patch_size=5, scales=2, hidden_size=64, glimpse_size=64)
    optimiser = torch.optim.Adam(agent.parameters(), lr=1e-3)

    def small(n, device="cpu"):
        return CatchVectorEnv(n, size=10, max_drift=0.5, device=device)

    for step in range(400):
        episode, _ = play(agent, GameBatch(torch.arange(128), 1000 + step, small))
        optimiser.zero_grad()
        agent.loss(episode).total.backward()
        optimiser.step()
    with torch.no_grad():
        played, _ = play(agent, GameBatch(torch.arange(1000), 7, small), greedy=True)
    assert played.returns.mean() > 0.5  # a still paddle: about 0.2


@pytest.mark.slow
def test_train_eval_show_an_agent_from_the_command_line(tmp_path, capsys):
    from foveate.cli import main

    run = tmp_path / "run"
    flags = ["--max-epochs", "1", "--limit-train-batches", "2", "--no-progress-bar"]
    small = ["--batch-size", "8", "--val-games", "20", "--test-games", "20", "--hidden-size", "16"]
    assert main(["train", "ram_agent", "--run-dir", str(run), *flags, *small]) == 0
    assert "test return" in capsys.readouterr().out
    checkpoint = run / "checkpoints" / "best.ckpt"
    assert main(["eval", str(checkpoint)]) == 0
    assert "of the most a game gives" in capsys.readouterr().out
    assert main(["show", str(checkpoint), "--images", "3", "--out", str(tmp_path / "fig")]) == 0
    written = [p for p in capsys.readouterr().out.split()]
    assert {p.rsplit("/", 1)[-1] for p in written} == {"play.gif", "play.png"}


def test_copies_are_the_same_game_played_side_by_side():
    env = CatchVectorEnv(8)
    screens, _ = env.reset(seed=3, options={"copies": 4})
    moves = torch.tensor([0, 1, 2, 1, 0, 0, 2, 2])
    for _ in range(5):
        # each copy moves its own way; the balls of a game still fall alike
        ball = screens[:, 0, :-1]
        assert torch.equal(ball[0], ball[3]) and torch.equal(ball[4], ball[7])
        screens, *_ = env.step(moves)
    assert not torch.equal(screens[0, 0, :-1], screens[4, 0, :-1])  # two different games
    with pytest.raises(ValueError, match="copies"):
        env.reset(seed=3, options={"copies": 3})
