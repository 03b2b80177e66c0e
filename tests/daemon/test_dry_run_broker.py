"""The dry run's simulated instruments, built from IB's ContractDetails."""

from __future__ import annotations

from ib_insync import ContractDetails, Stock
from support.times import NY

from bot.venues.dry_run import instrument_of, weekly_template


def test_the_weekly_template_is_the_most_common_days_first_open_to_last_close() -> None:
    hours = ("20261201:0930-20261201:1600;20261202:0930-20261202:1200;"
             "20261202:1300-20261202:1600;20261203:0930-20261203:1300;20261205:CLOSED")  # fmt: skip
    assert weekly_template(hours, NY) == "09:30-16:00"  # the break on the 2nd is ignored
    assert weekly_template("20261205:CLOSED", NY) is None
    overnight = "20261130:1715-20261201:1700;20261201:1715-20261202:1700"
    assert weekly_template(overnight, NY) == "17:15-17:00"


def test_instrument_from_details_keeps_tick_zone_and_sessions() -> None:
    c = Stock("AAPL", "SMART", "USD", conId=265598, primaryExchange="NASDAQ")
    d = ContractDetails(contract=c, minTick=0.01, timeZoneId="EST", longName="APPLE INC",
                        tradingHours="20261201:0400-20261201:2000",
                        liquidHours="20261201:0930-20261201:1600")  # fmt: skip
    inst = instrument_of(d, 0.0)
    assert (inst.con_id, inst.min_tick, inst.time_zone_id) == (265598, 0.01, "US/Eastern")
    assert (inst.trading_hours, inst.liquid_hours) == ("04:00-20:00", "09:30-16:00")
