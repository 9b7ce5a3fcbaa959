"""League self-play: a learner trains against a pool of frozen snapshots of itself and fixed opponents.

Give a :class:`League` to ``train()`` in place of the agent list::

    league = League(learner, opponents=[RandomAgent(seed=1)], config=LeagueConfig(snapshot_every=500))
    stats = trainer.train(league, learning_mask=[True, True])

``learning_mask`` names the seats the learner takes, one env group each (named
``<learner> as <seat>``, sharing the envs equally); every other seat of those envs is filled from the
pool. At the start of every training game each of those seats gets a pool member, drawn
independently from the league's own seeded generator:

* ``sampling="uniform"``: every member equally often;
* ``sampling="pfsp"`` (prioritised fictitious self-play): member ``m`` with weight
  ``(1 - p_m) ** pfsp_power``, where ``p_m`` is the learner's score against ``m`` over its last
  ``score_window`` games with it, Laplace-smoothed (``(score + 1) / (games + 2)``), so a member
  the learner always beats still comes up now and then and a new member starts at 1/2.

Scores: win 1, draw 1/2, loss 0, counted per opponent seat (in a game of three or more seats the
learner scores 1 against a member when the learner's side won, 0 when the member's side won, 1/2
otherwise: the tournament's pairwise rule).

With ``self_play`` > 0, each pool seat gets the learner itself (its current weights, acting
greedily there) with that chance instead of a member; those games are not scored.

Snapshots: a frozen copy of the learner joins the pool when the run starts (``initial_snapshot``),
then every ``snapshot_every`` training episodes, and/or when the learner's score against the pool
over the last ``score_window`` games since the previous snapshot reaches ``snapshot_score``
(RLlib's league example uses 0.95). At most ``max_snapshots`` snapshots are kept: the oldest is
evicted (fixed opponents never are); a game already running with it finishes.

League members play greedily while training (``exploration_mask`` applies to the learner's seats
only); to train against a noisy opponent, put an :class:`~rbtrainer.agents.EpsilonAgent` in the
pool. Test rounds seat the pool's members in turn (each equally often), so
:attr:`LeagueCurve.test_score` is the learner's score against the whole current pool.

The league's state (members, snapshot weights, recent scores, sampler) is in ``state_dict()`` for
checkpoints (``save_agents(..., metadata={"league": league.state_dict()})``) and in training
states, so a resumed run continues with the same pool.
"""

from __future__ import annotations

import dataclasses
import math
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from rbtrainer.agents.base import Agent, Learner, unique_name
from rbtrainer.config import SAMPLINGS, LeagueConfig
from rbtrainer.seating import Seating, SeatPlan, SeatRotation

if TYPE_CHECKING:
    from rbtrainer.envs import Episode, GameInfo

__all__ = ["SAMPLINGS", "League", "LeagueConfig", "LeagueCurve"]

_STATE_FORMAT = 1


@dataclass
class LeagueCurve:
    """The league over training, one entry per test round (the first is before any training)."""

    members: list[str] = field(default_factory=list)
    """Every member that was in the pool, in the order it joined."""
    fixed: list[str] = field(default_factory=list)
    """The fixed opponents among them."""
    train_score: dict[str, list[float]] = field(default_factory=dict)
    """Learner's score against each member over the training games since the previous test round (NaN: none)."""
    train_games: dict[str, list[int]] = field(default_factory=dict)
    """Training games against each member since the previous test round."""
    test_score: list[float] = field(default_factory=list)
    """Learner's score in the test round, every pool member seated equally often."""
    pool_size: list[int] = field(default_factory=list)
    """Members in the pool at each test round."""
    snapshots: list[int] = field(default_factory=list)
    """Training episodes at which each snapshot joined."""


@dataclass
class _Member:
    name: str
    agent: Agent
    fixed: bool
    born: int
    """Training episodes when it joined."""
    recent: deque[float]
    """The learner's scores in its last games against it."""


class _PoolSeat(Agent):
    """Marks a seat the league fills; never acts (the league seats a member before every game)."""

    name = "league-pool"

    def act(self, obs: np.ndarray, mask: np.ndarray, explore: np.ndarray) -> np.ndarray:
        raise RuntimeError("a league seat was played before the league seated a member in it")


class _Bound:
    """The league's view of one plan: each env's learner seat and who sits in the other seats."""

    def __init__(self, plan: SeatPlan, winning_seats: Callable[[str | None], Any]) -> None:
        self.plan = plan
        #: the learner's seat in each env: the one seat that learns there (see League.seatings)
        self.learner_seat = [int(np.flatnonzero(row)[0]) for row in plan.learning_ES]
        self.opponent_seats = [[s for s in range(plan.num_seats) if s != ls] for ls in self.learner_seat]
        self.winning_seats = winning_seats
        #: seated[env][k]: the member in the k-th opponent seat of env
        self.seated: list[list[_Member | None]] = [[None] * len(opp) for opp in self.opponent_seats]

    def scores(self, episode: Episode) -> list[tuple[_Member, float]]:
        """The learner's pairwise score against each member of the game that ended."""
        env = episode.env_id
        won = set(self.winning_seats(episode.winner))
        mine = self.learner_seat[env] in won
        out = []
        for seat, member in zip(self.opponent_seats[env], self.seated[env]):
            if member is None:
                continue
            theirs = seat in won
            out.append((member, 0.5 if mine == theirs else float(mine)))
        return out

    def seat(self, env: int, members: Sequence[_Member]) -> None:
        for k, (seat, member) in enumerate(zip(self.opponent_seats[env], members)):
            self.seated[env][k] = member
            self.plan.seat(env, seat, member.agent)


class _TestRotation(SeatRotation):
    """Test rounds: the pool's members in turn, each env starting at its own offset."""

    def __init__(self, league: League, bound: _Bound) -> None:
        self.league = league
        self.bound = bound
        self.members: list[_Member] = []
        self.games: list[int] = []
        self.score = 0.0
        self.count = 0

    def begin(self, plan: SeatPlan) -> None:
        self.members = list(self.league.members)
        self.games = [0] * plan.num_envs
        self.score, self.count = 0.0, 0
        for env in range(plan.num_envs):
            self._seat(env)
        plan.keep_agents([m.agent for m in self.members])

    def _seat(self, env: int) -> None:
        size, n = len(self.members), self.bound.plan.num_envs
        seats = len(self.bound.opponent_seats[env])
        first = env + self.games[env] * n
        self.bound.seat(env, [self.members[(first + k) % size] for k in range(seats)])

    def episode_ended(self, plan: SeatPlan, episode: Episode) -> None:
        scores = self.bound.scores(episode)
        if scores:
            self.score += sum(s for _, s in scores) / len(scores)
            self.count += 1
        self.games[episode.env_id] += 1
        self._seat(episode.env_id)

    def round_ended(self) -> None:
        self.league.record_test_round(self.score / self.count if self.count else math.nan)


class League(SeatRotation):
    """A learner and its pool of opponents; give it to ``train()`` in place of the agent list.

    ``opponents``: fixed members (baselines, other agents, frozen snapshots of other runs), never
    evicted; each is seated in the pool under its ``name`` (repeats numbered). Not modified.
    """

    def __init__(self, learner: Learner, opponents: Sequence[Agent] = (), config: LeagueConfig | None = None) -> None:
        if not isinstance(learner, Learner):
            raise TypeError(f"learner must be an rbtrainer Learner (e.g. dqn_agent(...)), got {learner!r}")
        if isinstance(opponents, Agent) or not isinstance(opponents, Sequence):
            raise TypeError(f"opponents must be a list of Agents, got {opponents!r}")
        config = LeagueConfig() if config is None else config
        if not isinstance(config, LeagueConfig):
            raise TypeError(f"config must be a LeagueConfig or None, got {config!r}")
        dataclasses.replace(config)  # re-run its checks: fields may have been assigned since it was built
        names = [learner.name]
        self.fixed: list[_Member] = []
        for i, agent in enumerate(opponents):
            if not isinstance(agent, Agent):
                raise TypeError(f"opponents[{i}] must be an rbtrainer Agent, got {agent!r}")
            if agent is learner:
                raise ValueError(
                    f"opponents[{i}] is the learner itself; that is plain self-play (the league adds frozen snapshots)"
                )
            names.append(unique_name(str(agent.name), names))
            self.fixed.append(_Member(names[-1], agent, True, 0, deque(maxlen=config.score_window)))
        if not self.fixed and not config.initial_snapshot:
            raise ValueError(
                "the pool would be empty when training starts: give opponents or keep initial_snapshot=True"
            )
        self.learner = learner
        self.config = config
        self.snapshots: list[_Member] = []
        self.curve = LeagueCurve()
        self.episodes = 0
        """Training games the learner played in this league."""
        self._last_snapshot = 0
        self._since_snapshot: deque[float] = deque(maxlen=config.score_window)
        self._period: dict[str, list[float]] = {}
        self._rng = np.random.default_rng(config.seed)
        self._seeded = config.seed is not None
        self._train: _Bound | None = None
        #: the learner itself in a pool seat (``self_play``); not a pool member, its games are not scored
        self._itself = _Member(f"{learner.name} (itself)", learner, True, 0, deque(maxlen=1))

    # ------------------------------------------------------------------- pool
    @property
    def members(self) -> list[_Member]:
        """The pool: fixed opponents, then snapshots from oldest to newest."""
        return self.fixed + self.snapshots

    @property
    def member_names(self) -> list[str]:
        return [m.name for m in self.members]

    def scores(self) -> dict[str, float]:
        """The learner's smoothed score against each member over its recent games ((score + 1) / (games + 2))."""
        return {m.name: (sum(m.recent) + 1.0) / (len(m.recent) + 2.0) for m in self.members}

    def probabilities(self) -> dict[str, float]:
        """The chance of each member being drawn for an opponent seat now."""
        return dict(zip(self.member_names, self._weights().tolist()))

    def _weights(self) -> np.ndarray:
        members = self.members
        if self.config.sampling == "uniform":
            w = np.ones(len(members))
        else:
            p = np.array([(sum(m.recent) + 1.0) / (len(m.recent) + 2.0) for m in members])
            w = (1.0 - p) ** self.config.pfsp_power
        return w / w.sum()

    def _draw(self, count: int, itself: bool = False) -> list[_Member]:
        """``count`` members for pool seats; ``itself``: each may be the learner (chance ``self_play``)."""
        members = self.members
        picks = self._rng.choice(len(members), size=count, p=self._weights())
        drawn = [members[int(k)] for k in picks]
        if itself and self.config.self_play > 0:
            mirror = self._rng.random(count) < self.config.self_play
            drawn = [self._itself if m else d for d, m in zip(drawn, mirror)]
        return drawn

    def add_snapshot(self) -> str:
        """Freeze the learner as it is now into the pool (the oldest snapshot over the cap leaves); returns the name."""
        agent = self.learner.frozen()
        name = unique_name(f"{self.learner.name}@{self.episodes}", [m.name for m in self.members])  # @ episodes
        agent.name = name
        self.snapshots.append(_Member(name, agent, False, self.episodes, deque(maxlen=self.config.score_window)))
        while len(self.snapshots) > self.config.max_snapshots:
            self.snapshots.pop(0)
        self._last_snapshot = self.episodes
        self._since_snapshot.clear()
        self.curve.snapshots.append(self.episodes)
        self._joined(name)
        if self._train is not None:
            self._train.plan.keep_agents([m.agent for m in self.members])
        return name

    def _joined(self, name: str) -> None:
        if name not in self.curve.members:
            self.curve.members.append(name)
            rounds = len(self.curve.test_score)
            self.curve.train_score[name] = [math.nan] * rounds
            self.curve.train_games[name] = [0] * rounds

    # ------------------------------------------------------ trainer interface
    def seatings(
        self,
        seat_names: Sequence[str],
        learning: np.ndarray,
        exploring: np.ndarray,
        check: Callable[[Agent, int, str], None],
    ) -> list[Seating]:
        """One env group per learning seat, named ``<learner> as <seat>``: the learner there, pool seats
        elsewhere (``check(agent, seat, where)`` raises if an agent cannot play a seat)."""
        num_seats = len(seat_names)
        if num_seats < 2:
            raise ValueError("a league needs a game with at least two seats; this game has one")
        seats = [int(s) for s in np.flatnonzero(learning)]
        if not seats:
            raise ValueError("learning_mask has no learning seat; with a league it names the seats the learner takes")
        for seat in range(num_seats):
            check(self.learner, seat, "the league's learner")  # it sits there, or its snapshots do
            if any(s != seat for s in seats):
                for member in self.fixed:
                    check(member.agent, seat, f"league opponent {member.name!r}")
        pool = _PoolSeat()
        out = []
        for seat in seats:
            agents = tuple(self.learner if s == seat else pool for s in range(num_seats))
            only = np.zeros(num_seats, dtype=bool)
            only[seat] = True
            out.append(Seating(f"{self.learner.name} as {seat_names[seat]}", agents, 1.0, only, exploring & only))
        return out

    def bind(self, train_plan: SeatPlan, test_plan: SeatPlan, game: GameInfo, seed: int) -> None:
        """Seat the league in a run's plans (``seed``: the trainer's, for a sampler without its own)."""
        self._train = _Bound(train_plan, game.winning_seats)
        train_plan.rotation = self
        test_plan.rotation = _TestRotation(self, _Bound(test_plan, game.winning_seats))
        if not self._seeded:
            from rbtrainer.rng import spawn_seeds

            self._rng = np.random.default_rng(spawn_seeds(seed, 1, stream=11)[0])

    def begin(self, plan: SeatPlan) -> None:
        """A fresh run: the initial snapshot joins, and every env gets its first opponents."""
        if self._train is None or plan is not self._train.plan:
            raise RuntimeError("the league was not bound to this plan")
        # the curve of this run (TrainStats.league)
        self.curve, self._period = LeagueCurve(fixed=[m.name for m in self.fixed]), {}
        for member in self.members:
            self._joined(member.name)
        if self.config.initial_snapshot and not self.snapshots:
            self.add_snapshot()
        for env, seats in enumerate(self._train.opponent_seats):
            self._train.seat(env, self._draw(len(seats), itself=True))
        plan.keep_agents([m.agent for m in self.members])

    def episode_ended(self, plan: SeatPlan, episode: Episode) -> None:
        """Record the game against its opponents, snapshot when due, draw the env's next opponents."""
        bound = self._train
        if bound is None:
            raise RuntimeError("the league was not bound to a plan")
        scores = bound.scores(episode)
        scores = [(member, score) for member, score in scores if member is not self._itself]
        for member, score in scores:
            member.recent.append(score)
            period = self._period.setdefault(member.name, [0.0, 0.0])
            period[0] += 1
            period[1] += score
        if scores:
            self._since_snapshot.append(sum(s for _, s in scores) / len(scores))
        self.episodes += 1
        cfg = self.config
        due = cfg.snapshot_every is not None and self.episodes - self._last_snapshot >= cfg.snapshot_every
        if cfg.snapshot_score is not None and len(self._since_snapshot) == cfg.score_window:
            due = due or float(np.mean(self._since_snapshot)) >= cfg.snapshot_score
        if due:
            self.add_snapshot()
        env = episode.env_id
        bound.seat(env, self._draw(len(bound.opponent_seats[env]), itself=True))

    def record_test_round(self, test_score: float) -> None:
        """Close a test round: its score and each member's training score since the previous one."""
        curve = self.curve
        curve.test_score.append(test_score)
        curve.pool_size.append(len(self.members))
        for name in curve.members:
            games, total = self._period.get(name, (0.0, 0.0))
            curve.train_games[name].append(int(games))
            curve.train_score[name].append(total / games if games else math.nan)
        self._period.clear()

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        """Members, snapshot weights, recent scores, counters and the sampler (plain data and tensors).

        Snapshots need a ``state_dict()`` (the library's learners' snapshots have one).
        """
        return {
            "format": _STATE_FORMAT,
            "learner": self.learner.name,
            "config": dataclasses.asdict(self.config),
            "members": [self._member_state(m) for m in self.members],
            "episodes": self.episodes,
            "last_snapshot": self._last_snapshot,
            "since_snapshot": list(self._since_snapshot),
            "period": {name: list(v) for name, v in self._period.items()},
            "sampler": self._rng.bit_generator.state,
            "seeded": self._seeded,
            "curve": dataclasses.asdict(self.curve),
        }

    @staticmethod
    def _member_state(member: _Member) -> dict[str, Any]:
        state: dict[str, Any] = {"name": member.name, "fixed": member.fixed, "born": member.born}
        state["recent"] = list(member.recent)
        if not member.fixed:
            to_state = getattr(member.agent, "state_dict", None)
            if not callable(to_state):
                raise TypeError(f"snapshot {member.name!r} ({member.agent!r}) has no state_dict(); it cannot be saved")
            state["weights"] = to_state()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Put back :meth:`state_dict`: the same fixed opponents (by name) must be in this league.

        Raises ``ValueError`` naming what differs before anything changes.
        """
        if not isinstance(state, dict) or state.get("format") != _STATE_FORMAT:
            raise ValueError("not a league state (written by League.state_dict)")
        fixed = [m["name"] for m in state["members"] if m["fixed"]]
        if fixed != [m.name for m in self.fixed]:
            raise ValueError(
                f"the saved league has fixed opponents {fixed}, this one {[m.name for m in self.fixed]}; "
                "build the League with the same opponents"
            )
        snapshots = []
        for saved in state["members"]:
            if saved["fixed"]:
                continue
            agent = self.learner.frozen()
            load = getattr(agent, "load_state_dict", None)
            if not callable(load):
                raise TypeError(f"the learner's snapshots ({agent!r}) have no load_state_dict(); cannot restore")
            load(saved["weights"])
            agent.name = saved["name"]
            recent = deque(saved["recent"], maxlen=self.config.score_window)
            snapshots.append(_Member(saved["name"], agent, False, int(saved["born"]), recent))
        for member, saved in zip(self.fixed, (m for m in state["members"] if m["fixed"])):
            member.recent = deque(saved["recent"], maxlen=self.config.score_window)
        self.snapshots = snapshots
        self.episodes = int(state["episodes"])
        self._last_snapshot = int(state["last_snapshot"])
        self._since_snapshot = deque(state["since_snapshot"], maxlen=self.config.score_window)
        self._period = {name: list(v) for name, v in state["period"].items()}
        self._rng = np.random.default_rng()
        self._rng.bit_generator.state = state["sampler"]
        self._seeded = bool(state["seeded"])
        self.curve = LeagueCurve(**state["curve"])

    def training_state(self) -> dict[str, Any]:
        """:meth:`state_dict` plus where the run's training envs stand (who sits where), for training states."""
        bound = self._train
        if bound is None:
            raise RuntimeError("the league is not in a run")
        state = self.state_dict()
        plan = bound.plan
        names = {id(m.agent): m.name for m in self.members}
        held = [a for a in plan.agents[plan.num_given :] if id(a) not in names]  # evicted, still seated
        state["held"] = [{"name": a.name, "weights": a.state_dict()} for a in held]  # type: ignore[attr-defined]
        state["plan_agents"] = [a.name for a in plan.agents[plan.num_given :]]
        state["agent_of"] = [list(row) for row in plan.agent_of]
        state["seated"] = [[None if m is None else m.name for m in row] for row in bound.seated]
        return state

    def load_training_state(self, state: dict[str, Any], plan: SeatPlan) -> None:
        """Put back :meth:`training_state` into a plan this league is bound to (before generators are restored)."""
        bound = self._train
        if bound is None or plan is not bound.plan:
            raise RuntimeError("the league was not bound to this plan")
        self.load_state_dict(state)
        by_name: dict[str, Agent] = {m.name: m.agent for m in self.members}
        members = {m.name: m for m in [*self.members, self._itself]}
        for saved in state["held"]:
            agent = self.learner.frozen()
            agent.load_state_dict(saved["weights"])  # type: ignore[attr-defined]
            agent.name = saved["name"]
            by_name[saved["name"]] = agent
            members.setdefault(saved["name"], _Member(saved["name"], agent, False, 0, deque()))
        plan.agents = plan.agents[: plan.num_given] + [by_name[name] for name in state["plan_agents"]]
        plan.agent_of = [list(map(int, row)) for row in state["agent_of"]]
        bound.seated = [[None if name is None else members[name] for name in row] for row in state["seated"]]
