"""rbtrainer: train independent reinforcement-learning agents that play multi-agent games."""

__version__ = "0.1.0"
