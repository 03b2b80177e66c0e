"""IB's historical data pacing and message rate, with time injected (no sleeping)."""

from __future__ import annotations

from bot.gateway.pacing_rules import (
    HistKey,
    HistoricalPacer,
    MessageRate,
    PacingLimits,
    PacingViolation,
)

PACING_TEXT = (
    "Historical Market Data Service error message:Historical data request pacing violation"
)


def key(con_id: int = 1, what: str = "TRADES", duration: str = "1 D", end: str = "") -> HistKey:
    return HistKey(con_id, "SMART", what, "1 min", duration, end, True)


def distinct(n: int) -> HistKey:
    """The n-th of many requests that differ and are spread over contracts."""
    return key(con_id=n % 20, duration=f"{n + 1} D")


def assert_pacing(v: PacingViolation | None, rule: str) -> None:
    assert v is not None
    assert (v.code, v.text, v.rule) == (162, PACING_TEXT, rule)


# ---- 60 requests in any 10 minutes ---------------------------------------------------------------


def test_the_61st_request_inside_ten_minutes_is_refused() -> None:
    p = HistoricalPacer()
    for n in range(60):
        assert p.check(7, distinct(n), now=n * 5.0) is None  # 0 .. 295 s
    assert_pacing(p.check(7, distinct(60), now=599.9), "window")
    # At 600 s the first request (t=0) has left the window (now - 600, now].
    assert p.check(7, distinct(61), now=600.0) is None
    assert_pacing(p.check(7, distinct(62), now=604.9), "window")
    assert p.check(7, distinct(63), now=605.0) is None


def test_refused_requests_do_not_use_up_the_window() -> None:
    p = HistoricalPacer()
    for n in range(60):
        assert p.check(1, distinct(n), now=float(n)) is None
    for n in range(60, 70):
        assert p.check(1, distinct(n), now=100.0) is not None
    # Exactly as many slots free up as accepted requests age out: one at 600 s.
    assert p.check(1, distinct(70), now=600.0) is None
    assert p.check(1, distinct(71), now=600.5) is not None


# ---- identical requests within 15 seconds --------------------------------------------------------


def test_identical_request_waits_fifteen_seconds() -> None:
    p = HistoricalPacer()
    assert p.check(1, key(), now=100.0) is None
    assert_pacing(p.check(1, key(), now=114.9), "identical")
    # The 16th second allows it again.
    assert p.check(1, key(), now=115.0) is None
    assert_pacing(p.check(1, key(), now=129.0), "identical")  # counted from 115, not 100


def test_a_plain_tuple_is_the_same_key() -> None:
    p = HistoricalPacer()
    assert p.check(1, (1, "SMART", "TRADES", "1 min", "1 D", "", True), now=0.0) is None
    assert_pacing(p.check(1, key(), now=1.0), "identical")


def test_requests_that_differ_in_any_field_are_not_identical() -> None:
    p = HistoricalPacer()
    base = key()
    variants = [base, base._replace(bar_size="5 mins"), base._replace(use_rth=False)]
    variants.append(base._replace(end="20261124 16:00:00 UTC"))
    for n, k in enumerate(variants):
        assert p.check(1, k, now=n * 0.5) is None


# ---- 6 requests per contract, exchange and tick type within 2 seconds ----------------------------


def test_seventh_request_for_one_contract_within_two_seconds_is_refused() -> None:
    p = HistoricalPacer()
    for n in range(6):
        assert p.check(1, key(duration=f"{n + 1} D"), now=10.0 + n * 0.3) is None  # 10.0 .. 11.5
    assert_pacing(p.check(1, key(duration="9 D"), now=11.9), "same_contract")
    # Other contracts and other tick types are not affected.
    assert p.check(1, key(con_id=2, duration="9 D"), now=11.9) is None
    assert p.check(1, key(what="MIDPOINT", duration="9 D"), now=11.9) is None
    # At 12.0 the request of 10.0 has left the 2-second window.
    assert p.check(1, key(duration="9 D"), now=12.0) is None


# ---- 50 open at once -----------------------------------------------------------------------------


def test_fifty_one_open_requests_get_error_322() -> None:
    p = HistoricalPacer()
    for n in range(50):
        assert p.check(3, distinct(n), now=float(n), req_id=n) is None
    v = p.check(3, distinct(50), now=50.0, req_id=50)
    assert v is not None
    assert (v.code, v.rule) == (322, "max_open")
    assert v.text == (
        "Error processing request:-'bS' : cause - "
        "Only 50 simultaneous API historical data requests allowed."
    )
    p.closed(3, 7)
    assert p.check(3, distinct(51), now=51.0, req_id=51) is None
    full = p.check(3, distinct(52), now=52.0, req_id=52)  # 50 open again
    assert full is not None and full.code == 322


def test_open_bookkeeping_without_req_id_in_check() -> None:
    p = HistoricalPacer(PacingLimits(max_open=2))
    assert p.check(1, distinct(0), now=0.0) is None
    p.opened(1, 10)
    p.opened(1, 11)
    assert p.check(1, distinct(1), now=1.0) is not None
    p.closed(1, 10)
    p.closed(1, 99)  # unknown ids are ignored
    assert p.check(1, distinct(2), now=2.0, req_id=12) is None
    p.drop_client(1)  # both open requests end: two more fit again
    assert p.check(1, distinct(3), now=3.0, req_id=13) is None
    assert p.check(1, distinct(4), now=4.0, req_id=14) is None


# ---- scope and configuration ---------------------------------------------------------------------


def test_limits_are_per_client_by_default() -> None:
    p = HistoricalPacer()
    assert p.check(1, key(), now=0.0) is None
    assert p.check(2, key(), now=1.0) is None
    shared = HistoricalPacer(PacingLimits(per_client=False))
    assert shared.check(1, key(), now=0.0) is None
    assert_pacing(shared.check(2, key(), now=1.0), "identical")


def test_disabled_pacing_allows_everything() -> None:
    p = HistoricalPacer(PacingLimits(enabled=False))
    for n in range(200):
        assert p.check(1, key(), now=n * 0.01, req_id=n) is None


def test_limits_are_configurable() -> None:
    p = HistoricalPacer(PacingLimits(window_requests=3, window_seconds=10.0, identical_seconds=1.0))
    for n in range(3):
        assert p.check(1, distinct(n), now=float(n)) is None
    assert_pacing(p.check(1, distinct(3), now=9.0), "window")
    assert p.check(1, distinct(3), now=10.0) is None


# ---- message rate --------------------------------------------------------------------------------


def test_the_51st_message_in_a_second_gets_error_100_once() -> None:
    r = MessageRate()
    for n in range(50):
        assert r.on_message(1, now=n * 0.019) is None  # 0 .. 0.931 s
    v = r.on_message(1, now=0.95)
    assert v is not None
    assert (v.code, v.rule) == (100, "message_rate")
    assert v.text == "Max rate of messages per second has been exceeded:max=50 rec=51 (1)"
    assert r.on_message(1, now=0.96) is None  # the same burst is reported once
    assert r.on_message(2, now=0.96) is None  # other clients count on their own


def test_a_new_burst_is_reported_again() -> None:
    r = MessageRate(limit=3)
    for t in (0.0, 0.1, 0.2):
        assert r.on_message(1, now=t) is None
    assert r.on_message(1, now=0.3) is not None
    assert r.on_message(1, now=5.0) is None  # calm again
    for t in (5.1, 5.2):
        assert r.on_message(1, now=t) is None
    v = r.on_message(1, now=5.3)
    assert v is not None
    assert v.text == "Max rate of messages per second has been exceeded:max=3 rec=4 (2)"


def test_just_under_fifty_per_second_is_fine() -> None:
    r = MessageRate()
    assert all(r.on_message(1, now=n * 0.0201) is None for n in range(500))


def test_message_rate_can_be_disabled() -> None:
    r = MessageRate(enabled=False)
    assert all(r.on_message(1, now=0.0) is None for _ in range(100))
