"""The router (bar -> strategy -> intent) and the kernel that wires strategies, risk, orders and
journal."""
