"""Where executors put their encoded strips, and how the driver stitches them into one COG by reference.

Two sinks, chosen by the output location:

- ``LocalParts``: a staging folder beside a local output (one machine: a ``local`` master). Each task
  writes one file per output file and strip; the driver writes the header and its own small levels
  and appends the strips' byte ranges (local disk reads, hashed on the way for ``file:checksum``;
  nothing travels through Spark).
- ``S3Parts``: one multipart upload per output file, to a staging key beside the output prefix.
  Each task uploads each of its levels as the part whose number the plan fixed
  (``StripPlan.part_number``); the driver uploads part 1 (header and its levels) and completes the
  upload; publishing is a server-side copy to the final key. S3 refuses parts under 5 MiB but the
  last, so a smaller part is padded with zeros after its blocks: TIFF readers follow the offsets
  and never read the gap (a small result thus holds up to 5 MiB of padding per part).
"""
from __future__ import annotations

import hashlib
import logging
import os
import uuid
from dataclasses import dataclass, field
from typing import BinaryIO, Mapping, Sequence

from jobs.results.checksum import SHA256_MULTIHASH_PREFIX
from jobs.results.cog import FRAME, CogHeader, block_offsets, framed
from jobs.results.documents import COG_MEDIA_TYPE
from jobs.results.strips import EncodedStrip, StripPlan

MIN_PART = 5 * 1024 * 1024          # S3's smallest part but the last

log = logging.getLogger(__name__)


@dataclass
class S3Staging:
    """A staging prefix beside an S3 output (``<prefix>.staging-<id>/``, never inside it): the
    multipart uploads still open (file name -> (bucket, key, upload id)) and the staged objects
    (file name -> URI) that publishing copies to their place."""

    prefix: str
    uploads: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    completed: dict[str, str] = field(default_factory=dict)

    @classmethod
    def beside(cls, output: str) -> "S3Staging":
        from sparkeo import storage

        bucket, prefix = storage.split_s3(output)
        return cls(f"s3://{bucket}/{prefix.rstrip('/')}.staging-{uuid.uuid4().hex[:12]}/")

    def start_upload(self, name: str, content_type: str) -> None:
        """Open the multipart upload of the staged object ``name``."""
        from sparkeo import storage

        bucket, key = storage.split_s3(storage.join(self.prefix, name))
        reply = storage.s3_client().create_multipart_upload(Bucket=bucket, Key=key, ContentType=content_type)
        self.uploads[name] = (bucket, key, reply["UploadId"])

    def copy(self, name: str, target: str) -> bool:
        """Copy the staged object ``name`` to ``target`` server-side and delete it; False when
        ``name`` is not staged here."""
        from sparkeo import storage

        staged = self.completed.pop(name, None)
        if staged is None:
            return False
        src_bucket, src_key = storage.split_s3(staged)
        bucket, key = storage.split_s3(target)
        client = storage.s3_client()
        client.copy({"Bucket": src_bucket, "Key": src_key}, bucket, key,
                    ExtraArgs={"ContentType": COG_MEDIA_TYPE, "MetadataDirective": "REPLACE"})
        client.delete_object(Bucket=src_bucket, Key=src_key)
        return True

    def drop(self, everything: bool = False) -> None:
        """Abort the uploads still open and delete the staged objects (``everything``: all below the
        prefix, also what tasks of a failed run uploaded and never reported)."""
        from sparkeo import storage

        client = storage.s3_client()
        for bucket, key, upload in self.uploads.values():
            try:
                client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload)
            except Exception as exc:     # keep cleaning the others; the error goes to the log
                log.warning("could not abort the upload of %s: %s", key, str(exc) or repr(exc))
        self.uploads.clear()
        storage.delete_all(list(self.completed.values()))
        self.completed.clear()
        if everything:
            storage.delete_prefix(self.prefix)


@dataclass(frozen=True)
class StripRef:
    """Where one strip of one output file went: each executor level's block sizes (index = level) and
    a staged file holding the levels one after the other, or the S3 parts' ETags and zero padding."""

    sizes: tuple[tuple[int, ...], ...]
    path: str | None = None
    etags: tuple[str, ...] = ()
    padding: tuple[int, ...] = ()

    def length(self, level: int) -> int:
        """Bytes of ``level``'s framed blocks."""
        return sum(self.sizes[level]) + FRAME * len(self.sizes[level])

    def gap(self, level: int) -> int:
        return self.padding[level] if self.padding else 0


@dataclass(frozen=True)
class LocalParts:
    """Strips staged as files in ``folder`` (on the file system the driver sees too)."""

    folder: str

    def put(self, plan: StripPlan, name: str, strip: int, encoded: EncodedStrip, settings=None) -> StripRef:
        # unique per attempt: a retried or speculative task must not overwrite a file being read
        path = os.path.join(self.folder, f"{name}.{strip:05d}-{uuid.uuid4().hex[:8]}.part")
        with open(path, "wb") as fh:
            for segment in encoded.segments:
                fh.write(segment)
        return StripRef(encoded.sizes, path=path)


@dataclass(frozen=True)
class S3Parts:
    """Strips uploaded as parts of one multipart upload per output file: ``uploads`` maps a file
    name to (bucket, staging key, upload id)."""

    uploads: Mapping[str, tuple[str, str, str]]

    def put(self, plan: StripPlan, name: str, strip: int, encoded: EncodedStrip, settings=None) -> StripRef:
        """Upload the strip's levels as their parts (``settings``: the job's, for S3 access)."""
        from sparkeo import storage

        bucket, key, upload = self.uploads[name]
        client = storage.s3_client() if settings is None else storage.s3_client_for(settings)
        etags, padding = [], []
        for level, segment in enumerate(encoded.segments):
            number = plan.part_number(strip, level)
            pad = max(0, MIN_PART - len(segment)) if number != plan.last_part else 0
            reply = client.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=number,
                                       Body=segment + b"\0" * pad)
            etags.append(reply["ETag"])
            padding.append(pad)
        return StripRef(encoded.sizes, etags=tuple(etags), padding=tuple(padding))


@dataclass(frozen=True)
class Stitch:
    """One output file's layout once every strip is in: the header with all offsets and the
    driver's own levels' framed blocks, in file order."""

    head: bytes                     # header, ghost area, IFDs
    driver: bytes                   # the driver's levels' framed blocks, smallest level first
    pad: int                        # zeros after them (S3: part 1 must reach MIN_PART)

    @classmethod
    def of(cls, plan: StripPlan, header: CogHeader, driver_blocks: Mapping[int, Sequence[bytes]],
           refs: Sequence[StripRef], s3: bool = False) -> "Stitch":
        """``driver_blocks``: the deflated blocks of each driver level; ``refs``: the strips in order."""
        count = len(plan.layout.levels)
        driver = b"".join(framed(b) for li in sorted(driver_blocks, reverse=True) for b in driver_blocks[li])
        pad = max(0, MIN_PART - header.data_start - len(driver)) if s3 else 0
        pieces = [(li, [len(b) for b in driver_blocks[li]], 0) for li in sorted(driver_blocks, reverse=True)]
        pieces.append((0, [], pad))
        pieces += [(li, ref.sizes[li], ref.gap(li)) for li in reversed(range(plan.levels)) for ref in refs]
        offsets = block_offsets(header.data_start, pieces, count)
        sizes = [[s for li2, ss, _ in pieces if li2 == li for s in ss] for li in range(count)]
        return cls(header.encode(offsets, sizes), driver, pad)


def write_local(target: BinaryIO, plan: StripPlan, stitch: Stitch, refs: Sequence[StripRef]) -> str:
    """Write the COG to ``target`` from the stitch and the staged strip files; returns its
    ``file:checksum`` (sha2-256 multihash), computed from the bytes as they are appended."""
    digest = hashlib.sha256()
    for chunk in (stitch.head, stitch.driver):
        target.write(chunk)
        digest.update(chunk)
    for level in reversed(range(plan.levels)):
        for ref in refs:
            start = sum(ref.length(li) for li in range(level))
            with open(ref.path, "rb") as src:
                src.seek(start)
                left = ref.length(level)
                while left:
                    chunk = src.read(min(left, 1 << 22))
                    target.write(chunk)
                    digest.update(chunk)
                    left -= len(chunk)
    return SHA256_MULTIHASH_PREFIX + digest.hexdigest()


def complete_s3(plan: StripPlan, stitch: Stitch, refs: Sequence[StripRef], bucket: str, key: str,
                upload: str) -> int:
    """Upload part 1 (header and the driver's levels) and complete the upload; returns the object's size."""
    from sparkeo import storage

    client = storage.s3_client()
    first = stitch.head + stitch.driver + b"\0" * stitch.pad
    reply = client.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=1, Body=first)
    parts = {1: reply["ETag"]}
    for level in range(plan.levels):
        for strip, ref in enumerate(refs):
            parts[plan.part_number(strip, level)] = ref.etags[level]
    client.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": parts[n]} for n in sorted(parts)]})
    return len(first) + sum(ref.length(li) + ref.gap(li) for ref in refs for li in range(plan.levels))
