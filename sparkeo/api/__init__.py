"""The openEO web API (``sparkeo serve``): an openEO API 1.2 back-end in front of sparkeo.

A front end like ``sparkeo.cli``: it authenticates the caller, parses the request, calls the use
cases of ``sparkeo.ops`` (prepare, submit, cancel, results) or the same ``jobs.run`` functions the
CLI's ``run``/``validate`` call, and answers JSON. Nothing imports it (tests/test_architecture.py).

One module per concept: ``config`` (the server's settings), ``auth`` (users file, bearer tokens),
``errors`` (sparkeo errors -> openEO JSON errors), ``documents`` (capabilities, collections,
processes, file formats: pure), ``jobstore`` (job records in the ZooKeeper registry plus the job's
files), ``runner`` (local mode: jobs on the server's local Spark, one at a time), ``app`` (the
Starlette routes), ``server`` (uvicorn).
"""
