"""Research: the data store and its download, parameter sweeps."""
