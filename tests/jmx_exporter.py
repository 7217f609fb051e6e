"""The Prometheus JMX exporter's rule engine, for tests: MBeans in, the exporter's series out.

The exporter jar (``jmx_prometheus_javaagent``, 0.x as the operator's image ships it) cannot be
fetched here, so the tests read the Spark driver's live MBeans with ``tests/jmx/JmxDump.java`` and apply
the operator's rules file (``../shared/spec/spark-operator/jmx-exporter/prometheus.yaml``) the way the
exporter's ``JmxCollector`` does:

- for every MBean attribute (CompositeData recursed into, its keys appended to ``attrKeys``) the match
  text is ``domain<k1=v1, k2=v2><attrKeys>attrName: value``, with the key properties in the order the
  ObjectName lists them and ``value`` as Java prints it;
- each rule's ``pattern`` is compiled as ``^.*(?:pattern).*$`` and the first rule that matches wins;
  ``attrNameSnakeCase`` is a per-rule setting (the exporter ignores it at the top level);
- ``name`` and label values are the rule's templates with ``$n`` groups filled in; the name is made
  safe (``[^a-zA-Z0-9:_]`` -> ``_``, runs of ``_`` merged) and lowercased with ``lowercaseOutputName``;
  labels are sorted by name and empty ones dropped; a rule without ``name`` uses the default format;
- values must be numbers (times ``valueFactor``) or booleans (1/0); anything else is skipped.

Besides the rule series the javaagent registers the client library's JVM collectors
(``DefaultExports``); :func:`hotspot_samples` derives the same series from the ``java.lang`` MBeans they
read, and the exporter's own ``jmx_scrape_duration_seconds``/``jmx_scrape_error`` are served too.

:class:`JmxExporter` keeps one ``JmxDump --serve`` process attached to the driver JVM and serves the
result on an HTTP port, like the agent's ``/metrics``.
"""
from __future__ import annotations

import http.server
import json
import math
import re
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import yaml

JMX_DIR = Path(__file__).resolve().parent / "jmx"

# jmx_exporter's JmxScraper.PROPERTY_PATTERN: key=value pairs of a key property list, values maybe quoted.
_PROPERTY = re.compile(r'([^,=:\*\?]+)=("(?:[^\\"]*(?:\\.)?)*"|[^,=:"]*)')
_SNAKE = re.compile(r"([a-z0-9])([A-Z])")
_UNSAFE = re.compile(r"[^a-zA-Z0-9:_]")
_UNDERSCORES = re.compile(r"__+")
_GROUP_REF = re.compile(r"\$(\d+)|\\(.)")


@dataclass(frozen=True)
class Sample:
    """One exported series: name, sorted labels, value, and the family's type."""

    name: str
    labels: tuple[tuple[str, str], ...]
    value: float
    type: str = "untyped"


@dataclass(frozen=True)
class Rule:
    """One entry of ``rules:``."""

    pattern: re.Pattern | None = None
    name: str | None = None
    labels: tuple[tuple[str, str], ...] | None = None
    type: str = "untyped"
    value: str | None = None
    value_factor: float = 1.0
    attr_name_snake_case: bool = False


@dataclass(frozen=True)
class ExporterConfig:
    """The parts of the exporter's YAML config that shape names and values."""

    rules: tuple[Rule, ...] = (Rule(),)
    lowercase_output_name: bool = False
    lowercase_output_label_names: bool = False

    @classmethod
    def from_yaml(cls, text: str) -> "ExporterConfig":
        """Parse a config the way ``JmxCollector.loadConfig`` does (no rules: one default rule)."""
        doc = yaml.safe_load(text) or {}
        rules = []
        for raw in doc.get("rules", [{}]) or []:
            labels = raw.get("labels")
            rule = Rule(
                pattern=re.compile(f"^.*(?:{raw['pattern']}).*$", re.S) if "pattern" in raw else None,
                name=raw.get("name"),
                labels=tuple(sorted((str(k), str(v)) for k, v in labels.items())) if labels is not None else None,
                type=str(raw.get("type", "untyped")).lower(),
                value=str(raw["value"]) if raw.get("value") is not None else None,
                value_factor=float(raw.get("valueFactor", 1.0)),
                attr_name_snake_case=bool(raw.get("attrNameSnakeCase", False)),
            )
            if (rule.labels is not None or "help" in raw) and rule.name is None:
                raise ValueError(f"rule gives help or labels without name: {raw!r}")
            if rule.name is not None and rule.pattern is None:
                raise ValueError(f"rule gives name without pattern: {raw!r}")
            rules.append(rule)
        return cls(rules=tuple(rules),
                   lowercase_output_name=bool(doc.get("lowercaseOutputName", False)),
                   lowercase_output_label_names=bool(doc.get("lowercaseOutputLabelNames", False)))

    @classmethod
    def from_file(cls, path: str | Path) -> "ExporterConfig":
        return cls.from_yaml(Path(path).read_text())


def key_properties(properties: str) -> list[tuple[str, str]]:
    """An ObjectName's key property list, in the order given (``JmxScraper.getKeyPropertyList``)."""
    out = []
    rest = properties
    while rest:
        m = _PROPERTY.match(rest)
        if not m:
            break
        out.append((m.group(1), m.group(2)))
        rest = rest[m.end():]
        if rest.startswith(","):
            rest = rest[1:]
    return out


def safe_name(name: str) -> str:
    """Invalid characters to ``_``, runs of ``_`` merged (``JmxCollector.safeName``)."""
    return _UNDERSCORES.sub("_", _UNSAFE.sub("_", name))


def _expand(template: str, match: re.Match) -> str:
    """Java's ``Matcher.replaceAll`` template: ``$n`` is group n (empty when unset), ``\\x`` is x."""
    def sub(m: re.Match) -> str:
        if m.group(1) is not None:
            return match.group(int(m.group(1))) or ""
        return m.group(2)
    return _GROUP_REF.sub(sub, template)


def _attributes(attributes: list[dict], keys: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], dict]]:
    """(attrKeys, leaf attribute) pairs: composite values are recursed into as the scraper does."""
    for attr in attributes:
        if attr["kind"] == "composite":
            yield from _attributes(
                [{**item, "type": ""} for item in attr["items"]], keys + (attr["name"],))
        else:
            yield keys, attr


def rule_samples(beans: Iterable[dict], config: ExporterConfig) -> list[Sample]:
    """The series the exporter's rules make of ``beans`` (``JmxDump`` JSON)."""
    out: dict[tuple[str, tuple], Sample] = {}
    for bean in beans:
        props = key_properties(bean["properties"])
        props_text = "<" + ", ".join(f"{k}={v}" for k, v in props) + ">"
        for attr_keys, attr in _attributes(bean["attributes"]):
            bean_name = bean["domain"] + props_text + "<" + ", ".join(attr_keys) + ">"
            sample = _record(config, bean["domain"], props, attr_keys, bean_name, attr)
            if sample is not None:
                # The exporter keeps every sample; a repeated name+labels would be a scrape error in
                # Prometheus, so keep the first like a duplicate-tolerant registry.
                out.setdefault((sample.name, sample.labels), sample)
    return list(out.values())


def _record(config: ExporterConfig, domain: str, props, attr_keys, bean_name: str, attr: dict) -> Sample | None:
    attr_name = attr["name"]
    snake = _SNAKE.sub(r"\1_\2", attr_name).lower()
    for rule in config.rules:
        match = None
        match_name = bean_name + (snake if rule.attr_name_snake_case else attr_name)
        if rule.pattern is not None:
            match = rule.pattern.match(f"{match_name}: {attr['text']}")
            if match is None:
                continue
        kind, raw = attr["kind"], attr["value"]
        if rule.value:
            try:
                raw, kind = float(_expand(rule.value, match)), "number"
            except ValueError:
                return None
        if kind == "number":
            value = float(raw) if not isinstance(raw, str) else float(raw.replace("Infinity", "inf"))
            value *= rule.value_factor
        elif kind == "boolean":
            value = 1.0 if raw else 0.0      # the exporter does not scale booleans
        else:
            return None
        if rule.name is None:
            return _default_sample(config, domain, props, attr_keys,
                                   snake if rule.attr_name_snake_case else attr_name, value, rule.type)
        name = safe_name(_expand(rule.name, match))
        if not name:
            return None
        if config.lowercase_output_name:
            name = name.lower()
        labels = []
        for label_name, label_value in rule.labels or ():
            label = safe_name(_expand(label_name, match))
            text = _expand(label_value, match)
            if config.lowercase_output_label_names:
                label = label.lower()
            if label and text:
                labels.append((label, text))
        return Sample(name, tuple(labels), value, rule.type)
    return None


def _default_sample(config, domain, props, attr_keys, attr_name, value, kind) -> Sample:
    """``JmxCollector.defaultExport``: domain_firstPropertyValue_attrKeys_attrName, other properties as labels."""
    parts = [domain] + ([props[0][1]] if props else []) + list(attr_keys) + [attr_name]
    name = safe_name("_".join(parts))
    if config.lowercase_output_name:
        name = name.lower()
    labels = []
    for key, val in props[1:]:
        label = safe_name(key)
        labels.append((label.lower() if config.lowercase_output_label_names else label, val))
    return Sample(name, tuple(labels), value, kind)


def hotspot_samples(beans: Iterable[dict]) -> list[Sample]:
    """The JVM series the javaagent's ``DefaultExports`` serve, from the ``java.lang`` MBeans they read."""
    out = []
    for bean in beans:
        if bean["domain"] != "java.lang":
            continue
        props = dict(key_properties(bean["properties"]))
        attrs = {a["name"]: a for a in bean["attributes"]}
        kind = props.get("type")
        if kind == "Memory":
            for area, attr in (("heap", "HeapMemoryUsage"), ("nonheap", "NonHeapMemoryUsage")):
                usage = {i["name"]: i["value"] for i in attrs.get(attr, {}).get("items", [])}
                for part in ("used", "committed", "max", "init"):
                    if part in usage:
                        out.append(Sample(f"jvm_memory_bytes_{part}", (("area", area),), float(usage[part]), "gauge"))
        elif kind == "MemoryPool" and "Usage" in attrs:
            usage = {i["name"]: i["value"] for i in attrs["Usage"].get("items", [])}
            for part in ("used", "committed", "max", "init"):
                if part in usage:
                    out.append(Sample(f"jvm_memory_pool_bytes_{part}", (("pool", props["name"]),),
                                      float(usage[part]), "gauge"))
        elif kind == "GarbageCollector" and "CollectionCount" in attrs:
            gc = (("gc", props["name"]),)
            out.append(Sample("jvm_gc_collection_seconds_count", gc, float(attrs["CollectionCount"]["value"]),
                              "summary"))
            out.append(Sample("jvm_gc_collection_seconds_sum", gc,
                              float(attrs["CollectionTime"]["value"]) / 1000.0, "summary"))
        elif kind == "Threading":
            for name, attr in (("jvm_threads_current", "ThreadCount"), ("jvm_threads_daemon", "DaemonThreadCount"),
                               ("jvm_threads_peak", "PeakThreadCount")):
                if attr in attrs:
                    out.append(Sample(name, (), float(attrs[attr]["value"]), "gauge"))
        elif kind == "ClassLoading" and "LoadedClassCount" in attrs:
            out.append(Sample("jvm_classes_loaded", (), float(attrs["LoadedClassCount"]["value"]), "gauge"))
    return out


def exposition(samples: Iterable[Sample]) -> str:
    """Prometheus text format 0.0.4, one ``# TYPE`` line per family."""
    families: dict[str, list[Sample]] = {}
    for s in samples:
        family = re.sub(r"_(count|sum)$", "", s.name) if s.type == "summary" else s.name
        families.setdefault(family, []).append(s)
    lines = []
    for family, items in sorted(families.items()):
        lines.append(f"# TYPE {family} {items[0].type}")
        for s in items:
            labels = ",".join(f'{k}="{_escape(v)}"' for k, v in s.labels)
            lines.append(f"{s.name}{{{labels}}} {_number(s.value)}" if labels else f"{s.name} {_number(s.value)}")
    return "\n".join(lines) + "\n"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def compile_dumper(build_dir: str | Path) -> Path:
    """Compile ``JmxDump.java`` with the machine's JDK into ``build_dir``; returns the class path."""
    build = Path(build_dir)
    build.mkdir(parents=True, exist_ok=True)
    subprocess.run(["javac", "-d", str(build), str(JMX_DIR / "JmxDump.java")], check=True,
                   capture_output=True, text=True)
    return build


@dataclass
class JmxExporter:
    """Serves what the javaagent would serve for one JVM, read live on every scrape."""

    classpath: Path
    config: ExporterConfig
    pid: int | None = None
    url: str | None = None
    port: int = 0
    _proc: subprocess.Popen | None = field(default=None, repr=False)
    _server: http.server.ThreadingHTTPServer | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    scrapes: int = 0

    def start(self) -> "JmxExporter":
        target = ["--pid", str(self.pid)] if self.pid is not None else ["--url", self.url]
        self._proc = subprocess.Popen(["java", "-cp", str(self.classpath), "JmxDump", *target, "--serve"],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True, bufsize=1)
        exporter = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                if self.path.split("?")[0] != "/metrics":
                    self.send_error(404)
                    return
                body = exporter.render().encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass   # the scraper gave up (scrape timeout); the next scrape reads afresh

            def log_message(self, *args):
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def beans(self) -> list[dict]:
        """One dump from the attached JVM."""
        with self._lock:
            if self._proc.poll() is not None:
                raise RuntimeError(f"JmxDump exited ({self._proc.returncode}): {self._proc.stderr.read()[-2000:]}")
            self._proc.stdin.write("dump\n")
            self._proc.stdin.flush()
            line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError(f"JmxDump closed its output: {self._proc.stderr.read()[-2000:]}")
        return json.loads(line)

    def samples(self) -> list[Sample]:
        """Rule series, JVM series and the exporter's scrape series, as one scrape would give them."""
        start, error, beans = time.monotonic(), 0.0, []
        try:
            beans = self.beans()
        except (RuntimeError, ValueError):
            error = 1.0
        self.scrapes += 1
        return [*rule_samples(beans, self.config), *hotspot_samples(beans),
                Sample("jmx_scrape_duration_seconds", (), time.monotonic() - start, "gauge"),
                Sample("jmx_scrape_error", (), error, "gauge")]

    def render(self) -> str:
        return exposition(self.samples())

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._proc is not None:
            self._proc.stdin.close()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
