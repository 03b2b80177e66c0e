"""The router (bar -> strategy -> intent -> risk), its strategy slots, and the kernel that wires
strategies, risk, orders and journal.

How parts are connected, here and in the parts the kernel wires (risk, orders, portfolio, the
daemon):

- A part receives what it calls at construction: a constructor argument, a small Protocol
  where it makes several calls, a callable where it makes one. Nothing is assigned into a part
  after it is built (no ``x.on_something = ...``); where two parts need each other, the one
  built first gets a callable that reaches the other through its builder.
- A part announces what happened through eventkit ``Event`` attributes, listed in one
  ``events`` tuple at the top of its class (as ib_insync's ``IB.events``), wherever several
  listeners may care; listeners subscribe with ``+=``.
- The per-intent path (router -> risk check -> executor submit) stays direct calls: an event's
  emit costs more than a call and its order is the listeners'.
"""
