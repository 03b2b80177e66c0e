"""Helpers every test folder shares: the common times (``times``), waiting on a condition
instead of sleeping (``waiting``) and one fake of ib_insync's ``IB`` (``fake_ib``). On the
path through pyproject.toml's ``pythonpath``: ``from support.waiting import wait_until``."""
