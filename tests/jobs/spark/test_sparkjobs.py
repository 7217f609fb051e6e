"""jobs.spark.sparkjobs.python_jrdd: the RDD PySpark would build, with the executor environment's
Java map made once per SparkContext and variable set."""
from __future__ import annotations

import os

from jobs.spark.sparkjobs import _java_env, partition_runner, python_jrdd


def test_partitions_computed_through_python_jrdd_are_pysparks_own(spark):
    sc = spark.sparkContext
    run = partition_runner(sc, sc.parallelize(range(9), 3).flatMap(lambda x: [x, -x * 10]))
    assert run([0, 2]) == [0, 0, 1, -10, 2, -20, 6, -60, 7, -70, 8, -80]
    assert sorted(run([0, 1, 2])) == sorted(sc.parallelize(range(9), 3).flatMap(lambda x: [x, -x * 10]).collect())


def test_the_environment_map_is_made_once_and_tasks_run_with_its_variables(spark):
    sc = spark.sparkContext
    first, again = _java_env(sc, dict(sc.environment)), _java_env(sc, dict(sc.environment))
    assert first is again                                 # the same Java object: no round trip per variable
    assert _java_env(sc, {**sc.environment, "SPARKEO_OTHER": "1"}) is not first   # other variables: a new map
    names = sorted(sc.environment)
    rdd = sc.parallelize([0], 1).flatMap(lambda _: [os.environ.get(n) for n in names])
    jrdd = python_jrdd(sc, rdd)
    assert rdd._jrdd is jrdd                              # PySpark's own accessor returns the one built
    assert partition_runner(sc, rdd)([0]) == [sc.environment[n] for n in names]
