"""Object storage: local paths and ``s3://`` URIs behind one small set of functions (``http(s)://``
documents for reading only: ``sparkeo.webread``).

Local writes are atomic (temporary file + rename). S3 goes through boto3, honouring
``AWS_ENDPOINT_URL`` and the usual AWS variables; large uploads are multipart.
"""
from __future__ import annotations

import functools
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from sparkeo import readpolicy, webread
from sparkeo.errors import NotFoundInStorage, NotText, SparkeoError, StorageError

MULTIPART_THRESHOLD = 16 * 1024 * 1024


@dataclass(frozen=True)
class ObjectInfo:
    """One stored object: its URI, size in bytes and a change fingerprint (mtime or ETag)."""

    uri: str
    size: int
    fingerprint: str


def is_s3(uri: str) -> bool:
    return str(uri).startswith("s3://")


def split_s3(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` -> ``(bucket, key)``."""
    parsed = urlparse(uri)
    return parsed.netloc, parsed.path.lstrip("/")


def join(base: str, *parts: str) -> str:
    """Join path segments onto a local path or an S3 URI."""
    if is_s3(base):
        out = base.rstrip("/")
        for p in parts:
            out += "/" + p.strip("/")
        return out
    return os.path.join(base, *parts)


def resolve(base_uri: str, href: str) -> str:
    """Resolve ``href`` relative to the document at ``base_uri`` (STAC link semantics), with one
    exception: an absolute path stays a path, even in a document on the web (a STAC API describing a
    FUSE-mounted archive answers ``/eodata/...`` hrefs; RFC 3986 would make them paths on its host)."""
    if "://" in href or href.startswith("/"):
        return href
    if webread.is_http(base_uri):
        return webread.resolve(base_uri, href)
    if is_s3(base_uri):
        bucket, key = split_s3(base_uri)
        return f"s3://{bucket}/" + os.path.normpath(os.path.join(os.path.dirname(key), href))
    return os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(base_uri)), href))


def s3_client(signature_version: str | None = None):
    """A boto3 S3 client for the configured endpoint (``AWS_ENDPOINT_URL``) and credentials
    (``signature_version="s3v4"`` for presigned URLs: botocore may presign with the legacy SigV2 else).

    Clients are thread-safe and slow to build, so one is kept per endpoint/credentials/region.
    """
    env = os.environ
    return _cached_client(env.get("AWS_ENDPOINT_URL") or None, env.get("AWS_ACCESS_KEY_ID"),
                          env.get("AWS_SECRET_ACCESS_KEY"), env.get("AWS_SESSION_TOKEN"),
                          env.get("AWS_DEFAULT_REGION") or env.get("AWS_REGION"), env.get("AWS_PROFILE"),
                          signature_version)


def s3_client_for(settings) -> object:
    """A boto3 S3 client from a ``Settings``' endpoint, region and credentials (on an executor, where
    the driver's environment may be absent), the environment's where it leaves them unset."""
    env = os.environ
    return _cached_client(settings.s3_endpoint or env.get("AWS_ENDPOINT_URL") or None,
                          settings.aws_access_key_id or env.get("AWS_ACCESS_KEY_ID"),
                          settings.aws_secret_access_key or env.get("AWS_SECRET_ACCESS_KEY"),
                          settings.aws_session_token or env.get("AWS_SESSION_TOKEN"),
                          settings.aws_region or env.get("AWS_DEFAULT_REGION") or env.get("AWS_REGION"),
                          env.get("AWS_PROFILE"))


@functools.lru_cache(maxsize=8)
def _cached_client(endpoint, key_id, secret, token, region, profile, signature_version=None):
    import boto3
    from botocore.config import Config

    session = boto3.session.Session(aws_access_key_id=key_id, aws_secret_access_key=secret,
                                    aws_session_token=token, region_name=region, profile_name=profile)
    return session.client(
        "s3",
        endpoint_url=endpoint,
        config=Config(retries={"max_attempts": 5, "mode": "standard"}, s3={"addressing_style": "path"},
                      signature_version=signature_version),
    )


def _s3_error(uri: str, exc: Exception) -> Exception:
    code = ((getattr(exc, "response", None) or {}).get("Error") or {}).get("Code", "")
    if code in ("NoSuchKey", "404", "NotFound", "NoSuchBucket"):
        return NotFoundInStorage(uri)
    return StorageError(uri, str(exc) or repr(exc))


def read_bytes(uri: str) -> bytes:
    """The whole content of a local file, S3 object or web document."""
    readpolicy.check_current(uri)     # a user-named location read for a restricted job
    if webread.is_http(uri):
        return webread.read_bytes(uri)
    if is_s3(uri):
        bucket, key = split_s3(uri)
        try:
            return s3_client().get_object(Bucket=bucket, Key=key)["Body"].read()
        except Exception as exc:  # botocore raises many types; classify once
            raise _s3_error(uri, exc) from exc
    try:
        return Path(uri).read_bytes()
    except FileNotFoundError:
        raise NotFoundInStorage(uri) from None
    except OSError as exc:
        raise StorageError(uri, exc.strerror or str(exc)) from exc


def read_text(uri: str) -> str:
    """A document as text; ``NotText`` (exit 2, naming ``uri``) when it is not UTF-8."""
    return decode_text(read_bytes(uri), uri)


def decode_text(data: bytes, uri: str) -> str:
    """``data`` decoded as UTF-8; ``NotText`` naming ``uri`` otherwise (never a UnicodeDecodeError stack)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NotText(uri, exc.start) from None


def write_bytes(uri: str, data: bytes, content_type: str | None = None) -> None:
    """Write an object; a local file appears only when complete (temp file + rename)."""
    if is_s3(uri):
        bucket, key = split_s3(uri)
        extra = {"ContentType": content_type} if content_type else {}
        try:
            s3_client().put_object(Bucket=bucket, Key=key, Body=data, **extra)
        except Exception as exc:
            raise _s3_error(uri, exc) from exc
        return
    _write_local(uri, lambda fh: fh.write(data))


def _write_local(uri: str, fill) -> None:
    """Create a local file atomically: ``fill(fh)`` writes a temp file that is then renamed."""
    path = Path(uri)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    except OSError as exc:
        raise StorageError(uri, exc.strerror or str(exc)) from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            # mkstemp makes the file 0600; the renamed result gets the mode a plain open() would give.
            os.fchmod(fh.fileno(), 0o666 & ~process_umask())
            fill(fh)
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError) and not isinstance(exc, SparkeoError):
            raise StorageError(uri, exc.strerror or str(exc)) from exc
        raise


def process_umask() -> int:
    """The process umask, read from /proc where it can be (``os.umask`` can only read it by setting it)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def upload_file(local_path: str, uri: str, content_type: str | None = None, part_size: int | None = None) -> None:
    """Copy a local file to ``uri``; S3 uploads larger than ``part_size`` (default
    ``MULTIPART_THRESHOLD``, 16 MiB) are multipart, in parts of that size."""
    if not is_s3(uri):
        def copy(fh):
            with open(local_path, "rb") as src:
                shutil.copyfileobj(src, fh, 1024 * 1024)
        _write_local(uri, copy)
        return
    from boto3.s3.transfer import TransferConfig

    bucket, key = split_s3(uri)
    extra = {"ContentType": content_type} if content_type else None
    part_size = part_size or MULTIPART_THRESHOLD
    try:
        s3_client().upload_file(
            local_path, bucket, key, ExtraArgs=extra,
            Config=TransferConfig(multipart_threshold=part_size, multipart_chunksize=part_size),
        )
    except Exception as exc:
        raise _s3_error(uri, exc) from exc


def stat(uri: str) -> ObjectInfo:
    """Size and change fingerprint of one object."""
    readpolicy.check_current(uri)     # a user-named location read for a restricted job
    if webread.is_http(uri):
        return ObjectInfo(uri, *webread.stat(uri))
    if is_s3(uri):
        bucket, key = split_s3(uri)
        try:
            head = s3_client().head_object(Bucket=bucket, Key=key)
        except Exception as exc:
            raise _s3_error(uri, exc) from exc
        return ObjectInfo(uri, int(head["ContentLength"]), head.get("ETag", "").strip('"'))
    try:
        st = os.stat(uri)
    except FileNotFoundError:
        raise NotFoundInStorage(uri) from None
    return ObjectInfo(uri, st.st_size, f"{st.st_mtime_ns}")


def exists(uri: str) -> bool:
    try:
        stat(uri)
        return True
    except NotFoundInStorage:
        return False


def list_prefix(uri: str) -> list[ObjectInfo]:
    """Every object below a folder or S3 prefix, sorted by URI."""
    readpolicy.check_current(uri)     # a user-named location read for a restricted job
    if is_s3(uri):
        bucket, key = split_s3(uri)
        prefix = key.rstrip("/") + "/" if key else ""
        out = []
        try:
            pages = s3_client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
            for page in pages:
                for obj in page.get("Contents", []):
                    out.append(ObjectInfo(f"s3://{bucket}/{obj['Key']}", int(obj["Size"]), obj["ETag"].strip('"')))
        except Exception as exc:
            raise _s3_error(uri, exc) from exc
        return sorted(out, key=lambda o: o.uri)
    root = Path(uri)
    if not root.exists():
        return []
    return sorted(
        (ObjectInfo(str(p), p.stat().st_size, str(p.stat().st_mtime_ns)) for p in root.rglob("*") if p.is_file()),
        key=lambda o: o.uri,
    )


def delete(uri: str) -> None:
    """Delete one object or file; deleting something that is not there is not an error."""
    if is_s3(uri):
        bucket, key = split_s3(uri)
        try:
            s3_client().delete_object(Bucket=bucket, Key=key)
        except Exception as exc:
            raise _s3_error(uri, exc) from exc
        return
    try:
        Path(uri).unlink(missing_ok=True)
    except OSError as exc:
        raise StorageError(uri, exc.strerror or str(exc)) from exc


def delete_prefix(uri: str, keep: frozenset[str] | set[str] = frozenset()) -> int:
    """Delete every object below a folder or prefix except the URIs in ``keep``; returns how many.

    A whole bucket (``s3://bucket``) is refused: results always live below a prefix.
    """
    if is_s3(uri) and not split_s3(uri)[1].strip("/"):
        raise StorageError(uri, "refusing to delete every object of a bucket: give a prefix below it")
    objects = [o.uri for o in list_prefix(uri) if o.uri not in keep]
    delete_all(objects)
    return len(objects)


def delete_all(uris: list[str]) -> None:
    """Delete the given files or objects (S3: in batches of 1,000 per bucket); absent ones are no error."""
    local = [u for u in uris if not is_s3(u)]
    for u in local:
        delete(u)
    by_bucket: dict[str, list[str]] = {}
    for u in uris:
        if is_s3(u):
            bucket, key = split_s3(u)
            by_bucket.setdefault(bucket, []).append(key)
    for bucket, keys in by_bucket.items():
        client = s3_client()
        for i in range(0, len(keys), 1000):
            batch = [{"Key": k} for k in keys[i:i + 1000]]
            try:
                response = client.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
            except Exception as exc:
                raise _s3_error(f"s3://{bucket}/{keys[i]}", exc) from exc
            # delete_objects reports per-key failures in the body of a 200 response.
            if response.get("Errors"):
                first = response["Errors"][0]
                raise StorageError(f"s3://{bucket}/{first.get('Key')}",
                                   f"delete failed: {first.get('Code')} {first.get('Message', '')}".strip())


def download(uri: str, local_path: str) -> None:
    """Copy one object to a local file."""
    Path(local_path).parent.mkdir(parents=True, exist_ok=True)
    if is_s3(uri):
        bucket, key = split_s3(uri)
        try:
            s3_client().download_file(bucket, key, local_path)
        except Exception as exc:
            raise _s3_error(uri, exc) from exc
        return
    def copy(fh):
        try:
            with open(uri, "rb") as src:
                shutil.copyfileobj(src, fh, 1024 * 1024)
        except FileNotFoundError:
            raise NotFoundInStorage(uri) from None
    _write_local(local_path, copy)
