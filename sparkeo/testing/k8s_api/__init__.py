"""A stand-in Kubernetes API server for SparkApplications (DESIGN.md "Testing with real parts").

``store``: the objects, label selectors, CRD validation and pruning; ``server``: the REST paths the
official ``kubernetes`` client calls; ``operator``: runs applications with ``spark-submit``.
"""
