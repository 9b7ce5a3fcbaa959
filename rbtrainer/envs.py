"""Game factories and env pools.

:class:`SeatGame` drives one PettingZoo game (AEC or Parallel) in *seats* (indices into
``possible_agents``): ``step`` takes one action per seat (-1 where a seat does not act), plays it,
routes every reward of that step to the seat that received it, runs the dead-agent protocol,
resets the game at once when it ends, and reports everything the rollout engine needs:

* ``seats``: the seats that must act next; ``obs`` / ``mask``: their observations (float32) and
  int8 action masks (all ones for games without masks);
* ``rew``: float64 rewards per seat received during the step;
* ``closed``: ``(seat, terminated, truncated, final_obs, final_mask)`` for seats whose episode
  ended during the step;
* ``episode``: ``None`` or, when a game ended, its per-seat returns, length (env steps), winner
  (from ``info["winner"]`` when the game reports it) and time span (``info["game_clock"]`` or
  the length).

A pool worker holds a block of games behind one Gymnasium env (:class:`SeatEnv`), so one call
to a worker steps all of its games: Tianshou's ``DummyVectorEnv`` (one in-process worker),
``SubprocVectorEnv`` (one process per CPU core) or ``RayVectorEnv`` (Ray actors, the ``ray``
extra). :class:`GamePool` addresses the games one by one on top of that.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
from pettingzoo import AECEnv, ParallelEnv
from pettingzoo.utils import wrappers as pz_wrappers

import games

__all__ = ["BACKENDS", "GameInfo", "GamePool", "SeatEnv", "SeatGame", "describe_game", "game_factory", "make_pool"]

logger = logging.getLogger(__name__)

BACKENDS = ("dummy", "subproc", "ray")

# Wrappers that only check calls (the trainer honours masks and orders calls itself): the
# trainer drives the env beneath them, which is several times faster.
_CHECK_ONLY_WRAPPERS = (
    pz_wrappers.OrderEnforcingWrapper,
    pz_wrappers.AssertOutOfBoundsWrapper,
    pz_wrappers.TerminateIllegalWrapper,
)


def _strip_check_wrappers(env: Any) -> Any:
    while isinstance(env, _CHECK_ONLY_WRAPPERS):
        env = env.env
    return env


def game_factory(env_args: Mapping[str, Any] | None, env_fn: Callable[..., Any] | None) -> Callable[[], Any]:
    """A zero-argument factory of the game described by ``env_args`` / ``env_fn``.

    With ``env_fn`` the env args (if any) are passed to it as keywords; otherwise ``env_args``
    names a registry game under ``"game"`` (default ``"robot_delivery"``) plus its arguments.
    The caller's mapping is copied, never modified.
    """
    if env_args is not None and not isinstance(env_args, Mapping):
        raise TypeError(f"env_args must be a dict of game arguments, got {type(env_args).__name__}")
    args = dict(env_args or {})
    if env_fn is not None:
        if not callable(env_fn):
            raise TypeError(f"env_fn must be a callable returning a PettingZoo env, got {env_fn!r}")
        return _EnvFnFactory(env_fn, args)
    name = args.pop("game", "robot_delivery")
    games.spec(name)  # unknown names fail here, listing the registered ones
    try:
        games.check_arguments(name, args)
    except ValueError as err:
        raise ValueError(f"env_args: {err}") from None
    return _RegistryFactory(name, args)


@dataclass(frozen=True)
class _RegistryFactory:
    name: str
    kwargs: dict[str, Any]

    def __call__(self) -> Any:
        return games.make(self.name, raw=True, **self.kwargs)


@dataclass(frozen=True)
class _EnvFnFactory:
    fn: Callable[..., Any]
    kwargs: dict[str, Any]

    def __call__(self) -> Any:
        return self.fn(**self.kwargs)


@dataclass(frozen=True)
class GameInfo:
    """Static facts of a game, read once from a fresh instance."""

    name: str
    api: str
    """``"aec"`` or ``"parallel"``."""
    seats: tuple[str, ...]
    observation_spaces: tuple[gym.Space, ...]
    """Observation space of each seat (the ``observation`` entry for dict observations)."""
    action_spaces: tuple[gym.Space, ...]
    players: tuple[str, ...]
    """Names the game uses for winners (the env's ``players`` attribute, else the seats)."""


def _observation_part(space: gym.Space) -> gym.Space:
    if isinstance(space, gym.spaces.Dict) and "observation" in space.spaces:
        return space.spaces["observation"]
    return space


def describe_game(factory: Callable[[], Any]) -> GameInfo:
    """Build one instance and read its seats and spaces; checks it is a PettingZoo env."""
    env = factory()
    if isinstance(env, AECEnv):
        api = "aec"
    elif isinstance(env, ParallelEnv):
        api = "parallel"
    else:
        raise TypeError(
            f"the game factory returned {type(env).__name__}; env_fn must return a PettingZoo AECEnv or ParallelEnv"
        )
    try:
        seats = tuple(env.possible_agents)
        if not seats:
            raise ValueError("the game has no possible_agents; a game needs at least one seat")
        obs_spaces = [_observation_part(env.observation_space(agent)) for agent in seats]
        action_spaces = tuple(env.action_space(a) for a in seats)
        for agent, space in zip(seats, action_spaces):
            if not isinstance(space, gym.spaces.Discrete):
                raise TypeError(f"seat {agent!r} has action space {space}; rbtrainer supports Discrete action spaces")
        name = str(getattr(env, "metadata", {}).get("name", type(env).__name__))
        return GameInfo(
            name=name,
            api=api,
            seats=seats,
            observation_spaces=tuple(obs_spaces),
            action_spaces=action_spaces,
            players=tuple(getattr(_strip_check_wrappers(env), "players", seats)),
        )
    finally:
        env.close()


class SeatGame:
    """One game, driven seat by seat, with auto-reset (see the module docstring)."""

    def __init__(self, factory: Callable[[], Any]) -> None:
        self._game = _strip_check_wrappers(factory())
        self._aec = isinstance(self._game, AECEnv)
        self.seats = list(self._game.possible_agents)
        self._seat_of = {a: i for i, a in enumerate(self.seats)}
        self._n = len(self.seats)
        self._n_actions = [int(self._game.action_space(a).n) for a in self.seats]
        self._returns = np.zeros(self._n)
        self._length = 0
        self._parallel_obs: dict[str, Any] = {}
        self._parallel_infos: dict[str, Any] = {}

    # ----------------------------------------------------------- helpers
    def _split(self, agent: str, raw: Any, info: Mapping[str, Any] | None = None) -> tuple[np.ndarray, np.ndarray]:
        if type(raw) is dict:  # the common case, checked without the ABC machinery
            obs = raw.get("observation")
            mask = raw.get("action_mask")
            if isinstance(obs, np.ndarray) and isinstance(mask, np.ndarray):
                if obs.dtype != np.float32:
                    obs = obs.astype(np.float32)
                return obs, mask if mask.dtype == np.int8 else mask.astype(np.int8)
        if isinstance(raw, Mapping) and "observation" in raw:
            obs = np.asarray(raw["observation"], dtype=np.float32)
            mask = raw.get("action_mask")
        else:
            obs = np.asarray(raw, dtype=np.float32)
            mask = None
        if mask is None and info is not None:
            mask = info.get("action_mask")
        if mask is None:
            mask_arr = np.ones(self._n_actions[self._seat_of[agent]], dtype=np.int8)
        else:
            mask_arr = np.asarray(mask, dtype=np.int8)
        return obs, mask_arr

    def _aec_view(self, agent: str) -> tuple[np.ndarray, np.ndarray]:
        game = self._game
        return self._split(agent, game.observe(agent), game.infos.get(agent))

    def _decision(self) -> dict[str, Any]:
        if self._aec:
            agent = self._game.agent_selection
            obs, mask = self._aec_view(agent)
            return {"seats": [self._seat_of[agent]], "obs": [obs], "mask": [mask]}
        seats, obs_list, masks = [], [], []
        for agent in self._game.agents:
            obs, mask = self._split(agent, self._parallel_obs[agent], self._parallel_infos.get(agent))
            seats.append(self._seat_of[agent])
            obs_list.append(obs)
            masks.append(mask)
        return {"seats": seats, "obs": obs_list, "mask": masks}

    def _start(self, seed: int | None) -> None:
        self._returns = np.zeros(self._n)
        self._length = 0
        if self._aec:
            self._game.reset(seed=seed)
        else:
            self._parallel_obs, self._parallel_infos = self._game.reset(seed=seed)
        if not self._game.agents:
            raise RuntimeError("the game has no live agents right after reset()")

    # ---------------------------------------------------------- interface
    def reset(self, seed: int | None = None) -> dict[str, Any]:
        self._start(seed)
        return self._decision()

    def active(self, actions: np.ndarray) -> bool:
        """Whether ``actions`` (one per seat, -1: none) ask this game to move."""
        if self._aec:
            return bool(actions[self._seat_of[self._game.agent_selection]] >= 0)
        return bool((actions >= 0).any())

    def step(self, actions: np.ndarray) -> dict[str, Any]:
        rew = np.zeros(self._n)
        closed: list[tuple[int, bool, bool, np.ndarray, np.ndarray]] = []
        last_infos: dict[str, Any] = {}
        game = self._game
        if self._aec:
            agent = game.agent_selection
            game.step(int(actions[self._seat_of[agent]]))
            for a, r in game.rewards.items():
                if r:
                    rew[self._seat_of[a]] += r
            while game.agents:
                agent = game.agent_selection
                term, trunc = game.terminations[agent], game.truncations[agent]
                if not (term or trunc):
                    break
                obs, mask = self._aec_view(agent)
                last_infos[agent] = game.infos.get(agent, {})
                closed.append((self._seat_of[agent], bool(term), bool(trunc), obs, mask))
                game.step(None)
                for a, r in game.rewards.items():
                    if r:
                        rew[self._seat_of[a]] += r
        else:
            joint = {a: int(actions[self._seat_of[a]]) for a in game.agents}
            obs_d, rew_d, term_d, trunc_d, info_d = game.step(joint)
            for a, r in rew_d.items():
                rew[self._seat_of[a]] += r
            for a in joint:
                if term_d.get(a, False) or trunc_d.get(a, False):
                    obs, mask = self._split(a, obs_d[a], info_d.get(a))
                    last_infos[a] = info_d.get(a, {})
                    closed.append((self._seat_of[a], bool(term_d.get(a)), bool(trunc_d.get(a)), obs, mask))
            self._parallel_obs, self._parallel_infos = obs_d, info_d
        self._returns += rew
        self._length += 1
        episode = None
        if not game.agents:
            episode = self._episode_summary(last_infos)
            self._start(None)
        info = self._decision()
        info["rew"] = rew
        info["closed"] = closed
        info["episode"] = episode
        return info

    def _episode_summary(self, infos: Mapping[str, Any]) -> dict[str, Any]:
        winner: str | None = None
        reported = False
        span = float(self._length)
        for info in infos.values():
            if isinstance(info, Mapping):
                if "winner" in info:
                    winner, reported = info["winner"], True
                if "game_clock" in info:
                    span = float(info["game_clock"])
        if not reported:
            # games that do not report a winner: a unique best return wins, otherwise a draw
            best = self._returns.max()
            leaders = np.flatnonzero(self._returns == best)
            if len(leaders) == 1 and np.any(self._returns != best):
                winner = self.seats[int(leaders[0])]
        return {"returns": self._returns.copy(), "length": self._length, "winner": winner, "time_span": span}

    def close(self) -> None:
        self._game.close()


class SeatEnv(gym.Env):
    """The Gymnasium face of a block of :class:`SeatGame` objects, one block per pool worker.

    ``step`` takes an ``(games, seats)`` action array (-1: no action; a game whose acting seats all
    have -1 is left alone) and returns the per-game infos in ``info["games"]`` (``None`` for games
    left alone). ``reset(options={"game": k, "seed": s})`` starts game ``k`` anew.
    """

    metadata: dict[str, Any] = {"render_modes": []}  # noqa: RUF012 (gymnasium declares it per instance)

    def __init__(self, factory: Callable[[], Any], num_games: int) -> None:
        self._factory = factory
        self.games = [SeatGame(factory) for _ in range(num_games)]
        num_seats = len(self.games[0].seats)
        self.observation_space = gym.spaces.Box(0, 1, shape=(1,), dtype=np.float32)  # placeholder for Tianshou
        self.action_space = gym.spaces.Box(-1, 2**31 - 1, shape=(num_games, num_seats), dtype=np.int64)

    def __getstate__(self) -> dict[str, Any]:
        # Pools that ship envs to workers (Ray actors) pickle a fresh env: send the factory and
        # build the games again on the other side instead of pickling games mid-episode.
        return {"factory": self._factory, "num_games": len(self.games)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["factory"], state["num_games"])  # type: ignore[misc]

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        options = options or {}
        k = int(options.get("game", 0))
        return np.zeros(1, dtype=np.float32), {"decision": self.games[k].reset(options.get("seed", seed))}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        actions = np.asarray(action).reshape(len(self.games), -1)
        infos = [game.step(a) if game.active(a) else None for game, a in zip(self.games, actions)]
        return np.zeros(1, dtype=np.float32), 0.0, False, False, {"games": infos}

    def close(self) -> None:
        for game in self.games:
            game.close()


class GamePool:
    """``num_envs`` games spread over the workers of a Tianshou vector env, addressed per game.

    ``step(actions[n, seats], id=game_ids)`` steps those games (one call per worker that holds
    any of them) and returns a Tianshou-style 5-tuple whose last entry lists the games' infos in
    the order of ``id``; ``reset(env_id=[g], seed=s)`` restarts game ``g``.
    """

    def __init__(self, venv: Any, blocks: list[range]) -> None:
        self.venv = venv
        self.blocks = blocks
        self.num_envs = blocks[-1].stop
        self._where = [(w, k) for w, block in enumerate(blocks) for k in range(len(block))]

    def reset(self, env_id: Sequence[int], seed: int | None = None) -> tuple[None, list[dict[str, Any]]]:
        decisions = []
        for game_id in env_id:
            worker, k = self._where[game_id]
            _, infos = self.venv.reset(env_id=[worker], options={"game": k, "seed": seed})
            decisions.append(infos[0]["decision"])
        return None, decisions

    def step(self, actions: np.ndarray, id: Sequence[int]) -> tuple[None, None, None, None, list[dict[str, Any]]]:
        actions = np.asarray(actions)
        ids = np.asarray(id).tolist()
        if len(self.blocks) == 1 and len(ids) == self.num_envs and ids == list(range(self.num_envs)):
            # one worker stepping all of its games (the dummy pool's usual tick)
            _, _, _, _, infos = self.venv.step(actions[None], id=[0])
            return None, None, None, None, infos[0]["games"]
        per_worker: dict[int, np.ndarray] = {}
        for row, game_id in enumerate(ids):
            worker, k = self._where[game_id]
            block = per_worker.get(worker)
            if block is None:
                block = per_worker[worker] = np.full((len(self.blocks[worker]), actions.shape[1]), -1, np.int64)
            block[k] = actions[row]
        workers = sorted(per_worker)
        _, _, _, _, infos = self.venv.step(np.stack([per_worker[w] for w in workers]), id=workers)
        by_worker = dict(zip(workers, infos))
        return None, None, None, None, [by_worker[self._where[g][0]]["games"][self._where[g][1]] for g in ids]

    def close(self) -> None:
        self.venv.close()


def _blocks(num_envs: int, num_workers: int) -> list[range]:
    base, extra = divmod(num_envs, num_workers)
    blocks, start = [], 0
    for w in range(num_workers):
        size = base + (1 if w < extra else 0)
        blocks.append(range(start, start + size))
        start += size
    return blocks


def make_pool(factory: Callable[[], Any], num_envs: int, backend: str, num_workers: int | None = None) -> GamePool:
    """A :class:`GamePool` of ``num_envs`` games on ``backend``.

    ``dummy`` keeps every game in one in-process worker; ``subproc`` and ``ray`` spread them over
    ``num_workers`` workers (default: one per CPU core, at most one per game).
    """
    from tianshou.env import DummyVectorEnv, SubprocVectorEnv

    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {list(BACKENDS)}, got {backend!r}")
    if num_workers is None:
        num_workers = 1 if backend == "dummy" else min(num_envs, os.cpu_count() or 1)
    blocks = _blocks(num_envs, max(1, min(num_workers, num_envs)))
    fns = [_SeatEnvFactory(factory, len(block)) for block in blocks]
    if backend == "dummy":
        return GamePool(DummyVectorEnv(fns), blocks)
    if backend == "subproc":
        return GamePool(SubprocVectorEnv(fns), blocks)
    try:
        import ray  # noqa: F401
    except ImportError:
        raise ValueError("backend='ray' needs Ray: pip install 'rbtrainer[ray]'") from None
    from tianshou.env import RayVectorEnv

    return GamePool(RayVectorEnv(fns), blocks)


@dataclass(frozen=True)
class _SeatEnvFactory:
    factory: Callable[[], Any]
    num_games: int

    def __call__(self) -> SeatEnv:
        return SeatEnv(self.factory, self.num_games)
