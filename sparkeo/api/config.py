"""The settings of ``sparkeo serve``: one frozen value, built by the command from flags and ``SPARKEO_*``."""
from __future__ import annotations

from dataclasses import dataclass

LOCAL, CLUSTER = "local", "cluster"


@dataclass(frozen=True)
class ServerConfig:
    """How the API runs jobs and whom it lets in.

    ``mode``: ``local`` runs batch jobs on the server's own Spark (one at a time, in a worker thread),
    ``cluster`` creates SparkApplications (the same ``submit``/``cancel`` use cases as the CLI).
    ``results_root``: where local jobs write (``<root>/<job_id>``, inputs beside it in ``<job_id>.job``).
    ``sync_max_pixels``: the input-pixel budget of a synchronous ``POST /result``; above it the request
    is refused with the estimate (use a batch job).
    ``presigned_results``: the results document of a job whose results are on S3 links its assets as
    presigned S3 URLs valid ``presign_expiry`` seconds (clients download straight from S3, which must
    be reachable for them) instead of this API's streaming links.
    """

    catalog: str | None = None
    mode: str = LOCAL
    results_root: str = "results/api"
    namespace: str | None = None
    deployment_config: str | None = None
    sync_max_pixels: int = 50_000_000
    max_body_bytes: int = 1 << 20
    cors_origins: tuple[str, ...] = ("*",)
    public_collections: bool = True     # collection metadata without logging in (public collections only)
    title: str = "sparkeo"
    presigned_results: bool = False
    presign_expiry: int = 3600

    def results_of(self, job_id: str) -> str:
        return f"{self.results_root.rstrip('/')}/{job_id}"
