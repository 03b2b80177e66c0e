"""Paper/live guard: orders go only to a paper account unless live trading was asked twice.

IB names paper accounts DU... (individual) and DF... (advisor/friends-and-family paper).
Anything else is real money, allowed only when the config says ``mode: live`` AND the
command line says ``--live``; one of the two alone is treated as a mistake.
"""

from __future__ import annotations

PAPER_PREFIXES = ("DU", "DF")


class GuardError(RuntimeError):
    """Raised before anything is sent; ``str()`` is the message the CLI prints."""


def is_paper_account(account: str) -> bool:
    return account.upper().startswith(PAPER_PREFIXES)


def check_account(account: str, *, mode: str, live_flag: bool) -> None:
    """Raise GuardError unless orders may go to ``account``."""
    if not account:
        raise GuardError("refusing to trade: IB reported no account to trade")
    if is_paper_account(account):
        return
    if mode == "live" and live_flag:
        return
    raise GuardError(
        f"refusing to trade account {account}: it is not a paper account (DU/DF prefix). "
        "Set mode: live in the config AND pass --live to trade it."
    )
