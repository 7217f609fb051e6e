"""The command line: the only place that wires the domain packages together. Nothing imports it."""
