"""The openEO process-graph language: parse and validate, callbacks, the lazy DAG built from a graph."""
