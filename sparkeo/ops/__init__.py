"""The use cases every front end calls: prepare, render, submit, cancel, status, results.

One module per use case, each a plain function taking values and connected clients and returning a
frozen record; no click, no printing. ``sparkeo.cli`` parses arguments, calls one of these and
prints the outcome; the openEO web API calls the same functions. Like the front ends, ``ops`` may
import every domain package (it wires them: ``jobs`` to check a graph, ``sparkapps`` to create the
application, ``tracker`` to record it); only the front ends import ``ops``, and ``ops`` imports no
front end (tests/test_architecture.py).
"""
