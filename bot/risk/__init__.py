"""The risk stage: every intent checked against the limits, risk states, the kill switch.

``manager.RiskManager`` checks intents (rules without state in ``order_rules``, per-scope
limits in ``scope``); its base ``holds.RiskHolds`` keeps the holds and states; ``day_limits``
decides what P&L and the clock decide each bar; ``states`` journals and restores them."""
