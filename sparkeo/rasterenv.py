"""The one GDAL/rasterio environment factory: S3 endpoint, credentials and retry settings; and
what GDAL's errors mean for a read (``is_transient_read_error``: retry it, or give up).

Every rasterio read in sparkeo, on the driver and on executors, happens inside ``rasterio_env``;
no code writes GDAL options into ``os.environ``.
"""
from __future__ import annotations

import functools
from urllib.parse import urlparse

from sparkeo.settings import Settings


def gdal_options(settings: Settings) -> dict[str, object]:
    """GDAL configuration options for these settings (pure: no GDAL import)."""
    opts: dict[str, object] = {
        "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
        "GDAL_HTTP_MAX_RETRY": settings.gdal_http_max_retry,
        "GDAL_HTTP_RETRY_DELAY": settings.gdal_http_retry_delay,
        "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".tif,.tiff,.TIF,.TIFF,.jp2,.vrt,.nc",
        # No VSI_CACHE: /vsicurl (S3, HTTP) keeps its own block cache, and on local and FUSE files it
        # only copied every read once more and kept up to 25 MB per open file (a worker reading the
        # 2048 px bench scene: 308 MB peak RSS with it, 184 MB without).
        # MB of decoded blocks per process (the measurement is at the setting)
        "GDAL_CACHEMAX": settings.gdal_cache_mb,
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

    Credentials come from ``settings`` (the AWS variables the driver saw), else from the usual
    AWS variables/profile of this process through rasterio's AWSSession.
    """
    import rasterio

    opts = gdal_options(settings)
    if not (settings.s3_endpoint or settings.aws_access_key_id):
        return rasterio.Env(**opts)
    # Explicit credentials from Settings win: on an executor the driver's environment may be absent.
    session = _aws_session(settings.aws_access_key_id, settings.aws_secret_access_key,
                           settings.aws_session_token, settings.aws_region, opts.get("AWS_S3_ENDPOINT"))
    return rasterio.Env(session=session, **opts)


@functools.lru_cache(maxsize=8)
def _aws_session(key_id, secret, token, region, endpoint):
    """One AWSSession per credentials/endpoint: building one (a boto3 session) takes ~0.1 s,
    and a task opens an Env for every asset it reads."""
    from rasterio.session import AWSSession

    return AWSSession(aws_access_key_id=key_id, aws_secret_access_key=secret, aws_session_token=token,
                      region_name=region, endpoint_url=endpoint)


# GDAL/S3 messages that mean "the service had a hiccup, try again".
TRANSIENT_MESSAGES = (
    "http error", "curl error", "timed out", "timeout", "connection", "reset by peer", "temporar",
    "throttl", "slow down", "slowdown", "reduce your request rate", "service unavailable",
    "internal error", "try again", "response code: 50", "resource busy",
)
# Messages that stay true however often we ask: the object is not there, or we may not read it.
PERMANENT_MESSAGES = ("nosuchkey", "nosuchbucket", "access denied", "accessdenied", "forbidden",
                      "response code: 403", "response code: 404")
# A block read that came back short: over the network that is usually a cut transfer, not a bad file.
SHORT_READ_MESSAGES = ("read failed", "ireadblock failed", "readencoded", "read error", "got 0 bytes")
REMOTE_PREFIXES = ("/vsis3/", "/vsicurl/", "/vsigs/", "/vsiaz/", "/vsiswift/", "s3://", "http://", "https://")


def _gdal_chain(exc: BaseException) -> list[BaseException]:
    """The exception and everything it was raised from (rasterio chains GDAL's CPLE_* errors)."""
    chain, seen = [], set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        chain.append(exc)
        exc = exc.__cause__ or exc.__context__
    return chain


def is_transient_read_error(exc: BaseException, href: str) -> bool:
    """Whether a failed rasterio read of ``href`` may succeed when tried again.

    Looks at the whole chain rasterio raises (the outer ``RasterioIOError`` often only says "Read
    failed. See previous exception"). Network and S3 5xx errors are transient; a missing object or
    a refused one is not. For remote hrefs a short block read counts as transient: a connection cut
    mid-transfer looks exactly like that, and a truly corrupt object still fails once retries run out.
    """
    # GDAL's HTTP and generic AWS errors (rasterio exports its CPLE_* classes from rasterio._err only);
    # imported here: this module builds GDAL options without importing rasterio
    from rasterio._err import CPLE_AWSError, CPLE_HttpResponseError

    chain = _gdal_chain(exc)
    messages = " | ".join((str(e) or repr(e)).lower() for e in chain)
    if any(m in messages for m in PERMANENT_MESSAGES):
        return False
    if any(isinstance(e, (CPLE_HttpResponseError, CPLE_AWSError)) for e in chain):
        return True
    if any(m in messages for m in TRANSIENT_MESSAGES):
        return True
    remote = str(href).startswith(REMOTE_PREFIXES)
    return remote and any(m in messages for m in SHORT_READ_MESSAGES)


def describe_read_error(exc: BaseException) -> str:
    """One line naming what went wrong: rasterio's message plus the GDAL errors behind it."""
    parts: list[str] = []
    for e in _gdal_chain(exc):
        text = str(e) or repr(e)
        if "see previous exception" in text.lower() or text in parts:
            continue
        parts.append(text)
    return ": ".join(parts) or repr(exc)
