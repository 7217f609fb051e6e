"""Where a client downloads a result file from: this API's asset link (streamed, with range requests)
or, for results on S3, a presigned S3 URL that S3 itself checks (signature and expiry).

A presigned URL (SigV4: S3 checks the signature and that ``X-Amz-Date`` + ``X-Amz-Expires`` has not
passed) is signed with the server's own S3 credentials for one ``GET`` of one object; it is
handed only to the job's owner (inside the results document or the asset link's redirect), so it
grants nothing the owner could not already read.
"""
from __future__ import annotations

from sparkeo import storage


def presigned_url(href: str, expiry: int) -> str:
    """A URL that fetches the S3 object ``href`` without credentials for ``expiry`` seconds."""
    bucket, key = storage.split_s3(href)
    return storage.s3_client("s3v4").generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key},
                                                      ExpiresIn=expiry)


def asset_href(href: str, api_link: str, presign: bool, expiry: int) -> str:
    """The download link of a result file stored at ``href``: presigned when ``presign`` and on S3,
    else ``api_link`` (the API's ``/jobs/{id}/results/assets/{key}``)."""
    return presigned_url(href, expiry) if presign and storage.is_s3(href) else api_link
