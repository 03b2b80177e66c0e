"""The risk stage: every intent checked against the limits, risk states, the kill switch."""
