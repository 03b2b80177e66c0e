"""One-shot IB tools: a tool's connection, the scanner's parameters, fundamentals."""
