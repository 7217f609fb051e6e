"""Options shared by several commands (rasterio's ``rio/options.py`` pattern)."""
from __future__ import annotations

import click

catalog_opt = click.option(
    "--catalog", "catalog", default=None, metavar="URI",
    help="Layer catalog (layercatalog.json, local or s3://) [SPARKEO_CATALOG; default: the sample catalog].",
)
output_opt = click.option(
    "--output", "output", default=None, metavar="DIR|s3://bucket/prefix",
    help="Results location [default: ./results/<job_id>/].",
)


def job_id_handler(ctx, param, value):
    """A given job id checked with the one rule (``sparkeo.names``): ``InvalidJobId`` exits 2 naming it."""
    from sparkeo.names import check_job_id

    return None if value is None else check_job_id(value)


job_id_opt = click.option("--job-id", "job_id", default=None, callback=job_id_handler,
                          help="Job id (a Kubernetes name) [default: generated].")
job_id_arg = click.argument("job_id", callback=job_id_handler)
master_opt = click.option("--master", "master", default=None, help="Spark master [SPARKEO_SPARK_MASTER, local[2]].")
job_options_opt = click.option(
    "--job-options", "job_options", default=None, metavar="JSON",
    help="openEO job options as a JSON object (soft_errors, max_input_pixels, ...).",
)
bbox_opt = click.option("--bbox", "bbox", default=None, metavar="W,S,E,N", help="Bounding box.")
bbox_crs_opt = click.option("--bbox-crs", "bbox_crs", default="EPSG:4326", show_default=True, help="CRS of --bbox.")
time_opt = click.option("--time", "time", default=None, metavar="START/END",
                        help="ISO 8601 interval, '..' for an open end; start included, end excluded.")
json_opt = click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON output.")


# Kubernetes commands (render, submit, status, list, cancel)
cluster_output_opt = click.option(
    "--output", "output", default=None, metavar="s3://bucket/prefix",
    help="Results location [default: <results_root>/<job_id> of the deployment settings, "
         "s3://sparkeo-results/jobs/<job_id> unless SPARKEO_RESULTS_ROOT or --config say otherwise].",
)
cluster_catalog_opt = click.option(
    "--catalog", "catalog", default=None, metavar="s3://URI",
    help="Layer catalog the driver reads: an s3:// URI (a local path is refused unless the pods see this "
         "machine's files, SPARKEO_HOST_PATHS) [SPARKEO_CATALOG; default: the deployment's ConfigMap].",
)
deployment_opt = click.option(
    "--config", "deployment_config", default=None, metavar="DEPLOYMENT_YAML",
    help="Deployment settings for SparkApplications (image, resources, ...) [SPARKEO_DEPLOYMENT].",
)
kubeconfig_opt = click.option("--kubeconfig", default=None, metavar="PATH",
                              help="kubeconfig file [KUBECONFIG, ~/.kube/config, else in-cluster].")
namespace_opt = click.option("--namespace", "-n", "namespace", default=None,
                             help="Kubernetes namespace [SPARKEO_NAMESPACE, the deployment settings'].")


def options(*decorators):
    """One decorator applying ``decorators`` in the order given (the first is the first in ``--help``)."""
    def apply(fn):
        for decorator in reversed(decorators):
            fn = decorator(fn)
        return fn
    return apply


# What builds a job's SparkApplication (render, submit): the job, where it writes, and the deployment.
job_spec_opts = options(job_id_opt, cluster_output_opt, cluster_catalog_opt, job_options_opt, deployment_opt,
                        namespace_opt)
# Which SparkApplications a command talks to (status, list, cancel): namespace (--namespace, else the
# deployment settings') and cluster (--kubeconfig).
cluster_opts = options(namespace_opt, deployment_opt, kubeconfig_opt)


def settings_of(ctx: click.Context):
    """The ``Settings`` the command group built once for this invocation."""
    return ctx.find_root().obj["settings"]


def caller_of(ctx: click.Context):
    """The ``Caller`` (``--user``/``--groups``) the command group built once for this invocation."""
    return ctx.find_root().obj["caller"]

