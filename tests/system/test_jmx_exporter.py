"""tests/jmx_exporter.py: the JMX exporter's rule semantics, on the operator's rules file and a live JVM.

Expected names come from the examples in the operator's rules file comments and jmx_exporter's
documented default format, written out by hand here.
"""
from __future__ import annotations

import urllib.request

import pytest

from tests.jmx_exporter import (ExporterConfig, JmxExporter, compile_dumper, exposition,
                                hotspot_samples, key_properties, rule_samples, safe_name)

RULES = "spec/spark-operator/jmx-exporter/prometheus.yaml"


@pytest.fixture(scope="module")
def operator_rules(shared_dir) -> ExporterConfig:
    return ExporterConfig.from_file(shared_dir / RULES)


def bean(properties: str, value, attr: str = "Value", domain: str = "metrics") -> dict:
    kind = "boolean" if isinstance(value, bool) else "number"
    return {"domain": domain, "properties": properties,
            "attributes": [{"name": attr, "type": "long", "kind": kind, "text": str(value), "value": value}]}


def series(samples) -> dict:
    return {(s.name, tuple(sorted(s.labels))): s.value for s in samples}


def test_operator_config_is_read(operator_rules):
    assert operator_rules.lowercase_output_name is True
    assert len(operator_rules.rules) == 13
    # attrNameSnakeCase is a per-rule option: the top-level key in the operator's file has no effect
    assert not any(r.attr_name_snake_case for r in operator_rules.rules)


@pytest.mark.parametrize("properties, attr, value, expected", [
    # the operator's own examples (Spark 2 MBean names: name only)
    ("name=default.spark-pi.driver.DAGScheduler.stage.failedStages", "Value", 2,
     ("spark_driver_dagscheduler_stage_failedstages", (("app_id", "spark-pi"), ("app_namespace", "default")))),
    ("name=default.spark-pi.0.executor.threadpool.activeTasks", "Value", 3,
     ("spark_executor_threadpool_activetasks",
      (("app_id", "spark-pi"), ("app_namespace", "default"), ("executor_id", "0")))),
    ("name=default.spark-pi.driver.DAGScheduler.messageProcessingTime", "Count", 7,
     ("spark_driver_dagscheduler_messageprocessingtime_count", (("app_id", "spark-pi"), ("app_namespace", "default")))),
    # Spark 3+/Dropwizard 4 adds ",type=..." to every ObjectName: only the (.*) rules still match
    ("name=sparkeo.job.1.executor.bytesRead,type=counters", "Count", 5,
     ("spark_executor_bytesread_type_counters_count",
      (("app_id", "job"), ("app_namespace", "sparkeo"), ("executor_id", "1")))),
    ("name=sparkeo.job.1.jvm.heap.used,type=gauges", "Value", 9,
     ("spark_executor_jvm_heap_used_type_gauges",
      (("app_id", "job"), ("app_namespace", "sparkeo"), ("executor_id", "1")))),
])
def test_operator_rules_name_the_series(operator_rules, properties, attr, value, expected):
    assert series(rule_samples([bean(properties, value, attr)], operator_rules)) == {expected: float(value)}


@pytest.mark.parametrize("properties", [
    "name=sparkeo.job.driver.jvm.heap.used,type=gauges",               # \S+ cannot cross ", type=gauges"
    "name=sparkeo.driver.executor.bytesRead,type=counters",            # one-part namespace: no rule
    "name=sparkeo.driver.DAGScheduler.messageProcessingTime,type=timers",
])
def test_operator_rules_drop_what_they_do_not_match(operator_rules, properties):
    assert rule_samples([bean(properties, 1, "Count" if "type=c" in properties or "timers" in properties
                               else "Value")], operator_rules) == []


def test_first_matching_rule_wins_and_strings_are_skipped():
    config = ExporterConfig.from_yaml(
        "rules:\n"
        "- pattern: 'd<k=(\\w+)><>A'\n  name: first_$1\n"
        "- pattern: 'd<k=(\\w+)><>A'\n  name: second_$1\n")
    out = rule_samples([{"domain": "d", "properties": "k=x", "attributes": [
        {"name": "A", "type": "int", "kind": "number", "text": "4", "value": 4},
        {"name": "B", "type": "java.lang.String", "kind": "string", "text": "hi", "value": "hi"}]}], config)
    assert series(out) == {("first_x", ()): 4.0}


def test_value_factor_labels_and_booleans():
    config = ExporterConfig.from_yaml(
        "lowercaseOutputLabelNames: true\n"
        "rules:\n"
        "- pattern: 'd<name=(\\w+)><>(\\w+): .*'\n  name: m_$2\n  valueFactor: 0.001\n"
        "  labels: {Bean: '$1', attr: ''}\n")
    out = rule_samples([bean("name=b1", 2000, "Millis", domain="d"), bean("name=b2", True, "On", domain="d")], config)
    assert series(out) == {("m_Millis", (("bean", "b1"),)): 2.0, ("m_On", (("bean", "b2"),)): 1.0}


def test_default_format_with_composite_values():
    beans = [{"domain": "java.lang", "properties": "type=Memory", "attributes": [
        {"name": "HeapMemoryUsage", "type": "javax.management.openmbean.CompositeData", "kind": "composite",
         "items": [{"name": "used", "kind": "number", "text": "100", "value": 100}]}]},
        {"domain": "java.nio", "properties": "name=direct,type=BufferPool", "attributes": [
            {"name": "Count", "type": "long", "kind": "number", "text": "3", "value": 3}]}]
    assert series(rule_samples(beans, ExporterConfig())) == {
        ("java_lang_Memory_HeapMemoryUsage_used", ()): 100.0,
        ("java_nio_direct_Count", (("type", "BufferPool"),)): 3.0,
    }


def test_key_properties_keep_order_and_quotes():
    assert key_properties('type=GarbageCollector,name="G1, Young"') == [
        ("type", "GarbageCollector"), ("name", '"G1, Young"')]
    assert safe_name("a.b--c__d e") == "a_b_c_d_e"


def test_exposition_is_prometheus_text():
    text = exposition(rule_samples([bean("name=default.app.driver.jvm.heap.used", 5)],
                                   ExporterConfig.from_yaml("rules:\n- pattern: '.*'\n")))
    assert "# TYPE metrics_default_app_driver_jvm_heap_used_Value untyped" in text
    assert "metrics_default_app_driver_jvm_heap_used_Value 5.0" in text


@pytest.mark.slow
def test_live_driver_jvm(spark, operator_rules, tmp_path):
    """The dumper reads the test session's JVM; heap max matches the JVM's own MemoryMXBean."""
    classpath = compile_dumper(tmp_path)
    jvm = spark._jvm
    pid = int(jvm.java.lang.ProcessHandle.current().pid())
    spark.range(100).count()   # tasks ran: executor counters exist
    exporter = JmxExporter(classpath, operator_rules, pid=pid).start()
    try:
        beans = exporter.beans()
        with urllib.request.urlopen(f"http://127.0.0.1:{exporter.port}/metrics", timeout=60) as response:
            text = response.read().decode()
    finally:
        exporter.stop()
    spark_beans = [b for b in beans if b["domain"] == "metrics"]
    assert spark_beans and all(",type=" in b["properties"] for b in spark_beans)
    jvm_series = series(hotspot_samples(beans))
    heap_max = jvm.java.lang.management.ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getMax()
    assert jvm_series[("jvm_memory_bytes_max", (("area", "heap"),))] == float(heap_max)
    names = {s.name for s in rule_samples(beans, operator_rules)}
    assert "spark_executor_succeededtasks_type_counters_count" in names
    assert "spark_executor_succeededtasks_type_counters_count{" in text
    assert "jmx_scrape_error 0.0" in text
