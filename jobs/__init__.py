"""What to compute: process graph -> plan -> Spark tiles -> results.

Imports ``layercatalog`` and ``sparkeo`` only; a driver runs with no Kubernetes and no ZooKeeper.
"""
