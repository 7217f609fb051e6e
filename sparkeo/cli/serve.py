"""``sparkeo serve``: the openEO web API (``sparkeo.api``), local mode (jobs on local Spark) or cluster mode."""
from __future__ import annotations

import click

from sparkeo.cli.jobs import open_registry, zookeeper_opt
from sparkeo.cli.options import catalog_opt, deployment_opt, namespace_opt, settings_of


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=int, help="Port to listen on.")
@click.option("--users", "users_file", envvar="SPARKEO_API_USERS", required=True, metavar="FILE",
              help="Users file: 'name:bcrypt-hash[:group,...]' lines (a mounted Secret) [SPARKEO_API_USERS].")
@click.option("--mode", type=click.Choice(["local", "cluster"]), default="local", show_default=True,
              help="local: batch jobs on this process's Spark; cluster: SparkApplications.")
@click.option("--results-root", default="results/api", show_default=True, envvar="SPARKEO_API_RESULTS",
              help="Local mode: where jobs write (<root>/<job_id>) [SPARKEO_API_RESULTS].")
@click.option("--sync-max-pixels", default=50_000_000, show_default=True, type=int,
              help="Input-pixel budget of synchronous POST /result requests.")
@click.option("--cors-origin", "cors_origins", multiple=True, default=("*",), show_default=True,
              help="Allowed CORS origin (repeatable).")
@click.option("--allow-udf", is_flag=True,
              help="Local mode: run users' UDFs (run_udf), each chunk in a child process with CPU-time and "
                   "memory limits; without it local mode refuses run_udf. Cluster mode runs them in the job's "
                   "own executor pods.")
@click.option("--presigned-links", is_flag=True, envvar="SPARKEO_API_PRESIGNED",
              help="Results on S3: the results document links presigned S3 URLs (clients download from S3) "
                   "instead of API links [SPARKEO_API_PRESIGNED].")
@click.option("--private-collections", is_flag=True, envvar="SPARKEO_API_PRIVATE_COLLECTIONS",
              help="Collection metadata (/collections) only for logged-in users; without it anonymous callers "
                   "see the collections no access group restricts [SPARKEO_API_PRIVATE_COLLECTIONS].")
@click.option("--presign-expiry", default=3600, show_default=True, type=click.IntRange(1, 7 * 24 * 3600),
              help="Seconds a presigned download link stays valid.")
@catalog_opt
@zookeeper_opt
@deployment_opt
@namespace_opt
@click.pass_context
def serve(ctx, host, port, users_file, mode, results_root, sync_max_pixels, cors_origins, allow_udf, presigned_links,
          private_collections, presign_expiry, catalog, zookeeper, deployment_config, namespace):
    """Serve the openEO API (1.2) until interrupted."""
    from sparkeo.api.config import ServerConfig
    from sparkeo.api.server import serve as run_server

    settings = settings_of(ctx).for_web_api(local=mode == "local", allow_udf=allow_udf)
    config = ServerConfig(catalog=catalog or settings.catalog, mode=mode, results_root=results_root,
                          namespace=namespace, deployment_config=deployment_config,
                          sync_max_pixels=sync_max_pixels, cors_origins=tuple(cors_origins),
                          presigned_results=presigned_links, presign_expiry=presign_expiry,
                          public_collections=not private_collections)
    run_server(config, settings, open_registry(ctx, zookeeper), users_file, host, port)
