"""The one GDAL/rasterio environment factory: S3 endpoint, credentials and retry settings.

Every rasterio read in sparkeo, on the driver and on executors, happens inside ``rasterio_env``;
no code writes GDAL options into ``os.environ``.
"""
from __future__ import annotations

from urllib.parse import urlparse

from sparkeo.settings import Settings


def gdal_options(settings: Settings) -> dict[str, object]:
    """GDAL configuration options for these settings (pure: no GDAL import)."""
    opts: dict[str, object] = {
        "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
        "GDAL_HTTP_MAX_RETRY": settings.gdal_http_max_retry,
        "GDAL_HTTP_RETRY_DELAY": settings.gdal_http_retry_delay,
        "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".tif,.tiff,.TIF,.TIFF,.jp2,.vrt,.nc",
        "VSI_CACHE": "TRUE",
        "GDAL_CACHEMAX": 256,
    }
    if settings.s3_endpoint:
        url = urlparse(settings.s3_endpoint)
        opts["AWS_S3_ENDPOINT"] = url.netloc or url.path
        opts["AWS_HTTPS"] = "YES" if url.scheme == "https" else "NO"
        # Path-style addressing: MinIO, Ceph, moto and most private endpoints need it.
        opts["AWS_VIRTUAL_HOSTING"] = "FALSE"
    if settings.aws_region:
        opts["AWS_REGION"] = settings.aws_region
    return opts


def rasterio_env(settings: Settings):
    """A ``rasterio.Env`` context carrying ``gdal_options(settings)``.

    Credentials come from the usual AWS variables/profile through rasterio's AWSSession.
    """
    import rasterio
    from rasterio.session import AWSSession

    opts = gdal_options(settings)
    session = None
    if settings.s3_endpoint:
        session = AWSSession(endpoint_url=opts["AWS_S3_ENDPOINT"], region_name=settings.aws_region)
    return rasterio.Env(session=session, **opts) if session else rasterio.Env(**opts)
