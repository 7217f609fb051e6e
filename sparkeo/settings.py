"""Configuration: command-line flags, then ``SPARKEO_*`` environment variables, then defaults.

``Settings`` is an immutable value built once at the boundary (the CLI or the driver entry point)
and passed down; nothing below reads ``os.environ`` for sparkeo settings.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from sparkeo.errors import ConfigError


def _default_cache() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "sparkeo")


@dataclass(frozen=True)
class Settings:
    """Everything configurable, with its environment variable in the field's metadata."""

    catalog: str | None = field(default=None, metadata={"env": "SPARKEO_CATALOG"})
    cache_dir: str = field(default_factory=_default_cache, metadata={"env": "SPARKEO_CACHE"})
    spark_master: str = field(default="local[2]", metadata={"env": "SPARKEO_SPARK_MASTER"})
    # None: the plan sizes tiles itself from the inputs' block layout (jobs.blocks); a number fixes it
    tile_size: int | None = field(default=None, metadata={"env": "SPARKEO_TILE_SIZE"})
    read_retries: int = field(default=3, metadata={"env": "SPARKEO_READ_RETRIES"})
    read_retry_delay: float = field(default=0.5, metadata={"env": "SPARKEO_READ_RETRY_DELAY"})
    # S3: the standard boto3 variable; handed on to GDAL as AWS_S3_ENDPOINT etc.
    s3_endpoint: str | None = field(default=None, metadata={"env": "AWS_ENDPOINT_URL"})
    aws_region: str | None = field(default=None, metadata={"env": "AWS_DEFAULT_REGION"})
    # Credentials travel inside Settings to executors (tasks get Settings, not the driver's env);
    # to_env() leaves them out: on a cluster they come from Kubernetes Secret references.
    aws_access_key_id: str | None = field(default=None, repr=False,
                                          metadata={"env": "AWS_ACCESS_KEY_ID", "secret": True})
    aws_secret_access_key: str | None = field(default=None, repr=False,
                                              metadata={"env": "AWS_SECRET_ACCESS_KEY", "secret": True})
    aws_session_token: str | None = field(default=None, repr=False,
                                          metadata={"env": "AWS_SESSION_TOKEN", "secret": True})
    gdal_http_max_retry: int = field(default=5, metadata={"env": "SPARKEO_GDAL_HTTP_MAX_RETRY"})
    gdal_http_retry_delay: float = field(default=0.5, metadata={"env": "SPARKEO_GDAL_HTTP_RETRY_DELAY"})
    metrics_port: int = field(default=0, metadata={"env": "SPARKEO_METRICS_PORT"})
    zookeeper: str | None = field(default=None, metadata={"env": "SPARKEO_ZOOKEEPER"})
    zookeeper_root: str = field(default="/sparkeo", metadata={"env": "SPARKEO_ZOOKEEPER_ROOT"})
    namespace: str = field(default="sparkeo", metadata={"env": "SPARKEO_NAMESPACE"})
    pushgateway: str | None = field(default=None, metadata={"env": "SPARKEO_PUSHGATEWAY"})

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides) -> "Settings":
        """Defaults, overridden by the environment, overridden by explicit (flag) values.

        ``None`` overrides are ignored so that unset command-line flags fall through.
        """
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        for f in dataclasses.fields(cls):
            name = f.metadata.get("env")
            if name and env.get(name) not in (None, ""):
                values[f.name] = _coerce(f, env[name], name)
        for key, value in overrides.items():
            if value is not None:
                values[key] = value
        return cls(**values)

    def replace(self, **changes) -> "Settings":
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    def to_env(self, include_secrets: bool = False) -> dict[str, str]:
        """The environment variables that reproduce these settings in another process (executors).

        Secrets (AWS credentials) only with ``include_secrets``: a cluster passes them as Secret refs.
        """
        out = {}
        for f in dataclasses.fields(self):
            name, value = f.metadata.get("env"), getattr(self, f.name)
            if f.metadata.get("secret") and not include_secrets:
                continue
            if name and value is not None:
                out[name] = str(value)
        return out

    @property
    def cache_path(self) -> Path:
        return Path(self.cache_dir)


def _coerce(f: dataclasses.Field, raw: str, env_name: str):
    kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
    try:
        if kind.startswith("int"):
            return int(raw)
        if kind.startswith("float"):
            return float(raw)
    except ValueError:
        raise ConfigError(env_name, raw, f"expected {kind.split()[0]}") from None
    return raw
