"""Where executors put their encoded strips, and how the driver stitches them into one COG by reference.

Two sinks, chosen by the output location:

- ``LocalParts``: a staging folder beside a local output (one machine: a ``local`` master). Each task
  writes one file per output file and strip or chunk (``jobs.results.tailplan``; and its reduced
  rows, for the stage after); the tail one file per output file; the driver writes the header and
  appends the tail and the pieces' byte ranges (local disk reads, hashed on the way for ``file:checksum``; nothing travels through Spark).
- ``S3Parts``: one multipart upload per output file, to a staging key beside the output prefix.
  Each task uploads each of its levels as the part whose number the plan fixed
  (``TailTree.part_number``), the tail task part 2; reduced rows are staged objects, of which a
  chunk fetches just the rows it takes (ranged GETs). The driver
  uploads part 1 (the header) and completes the upload; publishing is a server-side copy to the
  final key. S3 refuses parts under 5 MiB but the last, so a smaller part is padded with zeros after
  its blocks: TIFF readers follow the offsets and never read the gap (a small result thus holds up
  to 5 MiB of padding per part). An upload has at most ``MAX_PARTS`` parts: ``check_parts`` refuses
  a larger plan before any upload starts.
"""
from __future__ import annotations

import errno
import hashlib
import io
import logging
import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import BinaryIO, Iterator, Mapping, Sequence

import numpy as np

from jobs.errors import TooManyParts
from jobs.results.checksum import SHA256_MULTIHASH_PREFIX
from jobs.results.cog import FRAME, CogHeader, block_offsets
from jobs.results.documents import COG_MEDIA_TYPE
from jobs.results.strips import EncodedStrip
from jobs.results.tailplan import TailTree

MIN_PART = 5 * 1024 * 1024          # S3's smallest part but the last
COPY_CHUNK = 1 << 22               # bytes per read where the kernel cannot copy
# copy_file_range's answers where a file system or kernel cannot copy (anything else is a real error)
NO_KERNEL_COPY = frozenset({errno.EXDEV, errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.EBADF})
MAX_PARTS = 10_000                  # S3's part numbers per multipart upload: 1..10,000
HEADER_PART, TAIL_PART = 1, 2

log = logging.getLogger(__name__)


def check_parts(uri: str, tree: TailTree) -> None:
    """Raise ``TooManyParts`` when each output file of ``tree`` (to S3 at ``uri``) needs more parts
    than one multipart upload may have (a plan is cheap: call it before starting any upload)."""
    if tree.last_part > MAX_PARTS:
        raise TooManyParts(uri, tree.layout.width, tree.layout.height, tree.last_part, MAX_PARTS)


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
    """Where one strip or chunk of one output file went: each of its levels' block sizes (index =
    level of its stage, from the stage's first) and a staged file holding the levels one after the
    other, or the S3 parts' ETags and zero padding."""

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
class TailRef:
    """Where the tail of one output file went: each level's block sizes (index = level; the strips'
    levels empty), a staged file of the levels from the smallest, or its S3 part's ETag and padding."""

    sizes: tuple[tuple[int, ...], ...]
    path: str | None = None
    etag: str | None = None
    pad: int = 0


@dataclass(frozen=True)
class LocalParts:
    """Strips staged as files in ``folder`` (on the file system the driver sees too)."""

    folder: str

    def put(self, tree: TailTree, stage: int, name: str, chunk: int, encoded: EncodedStrip,
            settings=None) -> StripRef:
        # unique per attempt: a retried or speculative task must not overwrite a file being read
        path = os.path.join(self.folder, f"{name}.{stage}-{chunk:05d}-{uuid.uuid4().hex[:8]}.part")
        with open(path, "wb") as fh:
            for segment in encoded.segments:
                fh.write(segment)
        return StripRef(encoded.sizes, path=path)

    def stage_reduced(self, name: str, piece: str, values: np.ndarray, settings=None) -> str:
        path = os.path.join(self.folder, f"{name}.{piece}-{uuid.uuid4().hex[:8]}.reduced.npy")
        np.save(path, values)
        return path

    def load_reduced(self, ref: str, settings=None, rows: tuple[int, int] | None = None) -> np.ndarray:
        """The staged rows (``rows``: only [start, end) of them), memory-mapped: a chunk reads only the rows it takes."""
        values = np.load(ref, mmap_mode="r")
        return values if rows is None else values[rows[0]:rows[1]]

    def put_tail(self, name: str, data: bytes, sizes, settings=None) -> TailRef:
        path = os.path.join(self.folder, f"{name}.tail-{uuid.uuid4().hex[:8]}.part")
        with open(path, "wb") as fh:
            fh.write(data)
        return TailRef(sizes, path=path)


@dataclass(frozen=True)
class S3Parts:
    """Strips uploaded as parts of one multipart upload per output file: ``uploads`` maps a file
    name to (bucket, staging key, upload id)."""

    uploads: Mapping[str, tuple[str, str, str]]
    prefix: str = ""                # the staging prefix (reduced rows go below it)

    def put(self, tree: TailTree, stage: int, name: str, chunk: int, encoded: EncodedStrip,
            settings=None) -> StripRef:
        """Upload the levels of ``chunk`` of ``stage`` as their parts (``settings``: the job's, for S3 access)."""
        bucket, key, upload = self.uploads[name]
        client = _client(settings)
        etags, padding = [], []
        for level, segment in enumerate(encoded.segments):
            number = tree.part_number(stage, chunk, tree.stages[stage].first + level)
            pad = max(0, MIN_PART - len(segment)) if number != tree.last_part else 0
            reply = client.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=number,
                                       Body=segment + b"\0" * pad)
            etags.append(reply["ETag"])
            padding.append(pad)
        return StripRef(encoded.sizes, etags=tuple(etags), padding=tuple(padding))

    def stage_reduced(self, name: str, piece: str, values: np.ndarray, settings=None) -> str:
        """Stage a piece's reduced rows as an object below the staging prefix; returns its URI."""
        from sparkeo import storage

        uri = storage.join(self.prefix, f"reduced/{name}.{piece}.npy")
        buffer = io.BytesIO()
        np.save(buffer, values)
        bucket, key = storage.split_s3(uri)
        _client(settings).put_object(Bucket=bucket, Key=key, Body=buffer.getvalue())
        return uri

    def load_reduced(self, ref: str, settings=None, rows: tuple[int, int] | None = None) -> np.ndarray:
        """The staged rows (``rows``: only [start, end) of them). A chunk's rows are often a part of
        a piece: it then fetches the ``.npy`` header and those rows' bytes (two ranged GETs), not
        the whole object."""
        from sparkeo import storage

        bucket, key = storage.split_s3(ref)
        client = _client(settings)
        if rows is not None:
            head = client.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{NPY_HEAD - 1}")["Body"].read()
            layout = npy_rows(head)
            if layout is not None:
                offset, shape, dtype = layout
                start, end = max(rows[0], 0), min(rows[1], shape[0])
                row_bytes = int(np.prod(shape[1:], dtype=np.int64)) * dtype.itemsize
                if end <= start or row_bytes == 0:
                    return np.empty((max(end - start, 0), *shape[1:]), dtype)
                first, last = offset + start * row_bytes, offset + end * row_bytes - 1
                body = client.get_object(Bucket=bucket, Key=key, Range=f"bytes={first}-{last}")["Body"].read()
                return np.frombuffer(body, dtype).reshape((end - start, *shape[1:]))
        values = np.load(io.BytesIO(client.get_object(Bucket=bucket, Key=key)["Body"].read()))
        return values if rows is None else values[rows[0]:rows[1]]

    def put_tail(self, name: str, data: bytes, sizes, settings=None) -> TailRef:
        """Upload the tail as part 2, padded to S3's minimum (the strips' parts follow it)."""
        bucket, key, upload = self.uploads[name]
        pad = max(0, MIN_PART - len(data))
        reply = _client(settings).upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=TAIL_PART,
                                              Body=data + b"\0" * pad)
        return TailRef(sizes, etag=reply["ETag"], pad=pad)


NPY_HEAD = 4096         # bytes read first for a .npy header (np.save writes 128 for the rows staged here)
_NPY_HEADERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}


def npy_rows(head: bytes) -> tuple[int, tuple[int, ...], np.dtype] | None:
    """(data offset, shape, dtype) of a C-ordered ``.npy`` from its first bytes; None when they do
    not hold the whole header or the array is not laid out row by row."""
    stream = io.BytesIO(head)
    try:
        read = _NPY_HEADERS.get(np.lib.format.read_magic(stream))
        if read is None:
            return None
        shape, fortran, dtype = read(stream)
    except (ValueError, EOFError):
        return None
    if fortran or dtype.hasobject or not shape:
        return None
    return stream.tell(), tuple(shape), dtype


def _client(settings):
    """S3 from a task's ``settings`` (executors), else from the environment."""
    from sparkeo import storage

    return storage.s3_client() if settings is None else storage.s3_client_for(settings)


def laid_out(tree: TailTree, refs: Sequence[Sequence[StripRef]]) -> Iterator[tuple[int, int, StripRef, int]]:
    """(level, its index in the piece, the piece, S3 part number) of every piece after the tail, in
    file order; ``refs``: per stage, its chunks' (the strips' first)."""
    for level, stage, chunk in tree.file_order():
        yield (level, level - tree.stages[stage].first, refs[stage][chunk],
               tree.part_number(stage, chunk, level))


@dataclass(frozen=True)
class Stitch:
    """One output file's header with every block's offset, once the tail and every piece are in."""

    head: bytes                     # header, ghost area, IFDs
    pad: int                        # zeros after it (S3: part 1 must reach MIN_PART)

    @classmethod
    def of(cls, tree: TailTree, header: CogHeader, tail: TailRef | None, refs: Sequence[Sequence[StripRef]],
           s3: bool = False) -> "Stitch":
        """``tail``: the levels after the stages' (None: the stages hold every level); ``refs``: per
        stage, its pieces."""
        count = len(tree.layout.levels)
        pad = max(0, MIN_PART - header.data_start) if s3 else 0
        pieces = []
        if tail is not None:
            pieces = [(li, tail.sizes[li], 0) for li in reversed(range(tree.tail, count))]
            pieces.append((0, [], tail.pad))
        pieces += [(level, ref.sizes[own], ref.gap(own)) for level, own, ref, _ in laid_out(tree, refs)]
        offsets = block_offsets(header.data_start + pad, pieces, count)
        sizes = [[s for li2, ss, _ in pieces if li2 == li for s in ss] for li in range(count)]
        return cls(header.encode(offsets, sizes), pad)


def write_local(target: BinaryIO, tree: TailTree, stitch: Stitch, tail: TailRef | None,
                refs: Sequence[Sequence[StripRef]]) -> str:
    """Write the COG to ``target`` (a file) from the header, the staged tail and pieces' files;
    returns its ``file:checksum`` (sha2-256 multihash).

    The kernel copies the byte ranges (``copy_ranges``: no trip through Python's buffers) while a
    thread hashes the same ranges from the page cache, where the executors just left them: hashing
    a 19 MB COG takes ~20 ms, as long as copying it, and the cores are otherwise idle at this point
    of a job."""
    ranges = [(tail.path, 0, os.path.getsize(tail.path))] if tail is not None else []
    ranges += [(ref.path, sum(ref.length(li) for li in range(own)), ref.length(own))
               for _, own, ref, _ in laid_out(tree, refs)]
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sparkeo-checksum") as hasher:
        hashed = hasher.submit(sha256_of, stitch.head, ranges)
        target.write(stitch.head)
        target.flush()
        copy_ranges(ranges, target.fileno())
        return SHA256_MULTIHASH_PREFIX + hashed.result()


def sha256_of(head: bytes, ranges: Sequence[tuple[str, int, int]]) -> str:
    """The sha2-256 hex digest of ``head`` followed by the byte ranges ``(path, start, length)``."""
    digest = hashlib.sha256(head)
    for path, start, length in ranges:
        for chunk in read_range(path, start, length):
            digest.update(chunk)
    return digest.hexdigest()


def copy_ranges(ranges: Sequence[tuple[str, int, int]], fd: int) -> None:
    """Append the byte ranges ``(path, start, length)`` to the file open at ``fd``: in the kernel
    (``copy_file_range``) where the file systems allow it, else (or for what it left) through a buffer."""
    for path, start, length in ranges:
        copied = _kernel_copy(path, start, length, fd)
        for chunk in read_range(path, start + copied, length - copied):
            view = memoryview(chunk)
            while view:
                view = view[os.write(fd, view):]


def read_range(path: str, start: int, length: int) -> Iterator[bytes]:
    """The ``length`` bytes of ``path`` from ``start``, in chunks of at most ``COPY_CHUNK``; raises
    ``OSError`` when the file ends before them (a staged piece shorter than planned)."""
    with open(path, "rb", buffering=0) as src:
        while length:
            chunk = os.pread(src.fileno(), min(length, COPY_CHUNK), start)
            if not chunk:
                raise OSError(f"{path}: ended {length} bytes early")
            yield chunk
            start, length = start + len(chunk), length - len(chunk)


def _kernel_copy(path: str, start: int, length: int, fd: int) -> int:
    """Bytes of the range the kernel appended to ``fd``: all of them, or fewer where the file
    system or kernel cannot copy (the caller copies the rest) or the source ends early."""
    copied = 0
    with open(path, "rb", buffering=0) as src:
        while copied < length:
            try:
                done = os.copy_file_range(src.fileno(), fd, length - copied, start + copied)
            except OSError as err:
                if err.errno in NO_KERNEL_COPY:
                    return copied
                raise
            if not done:
                return copied
            copied += done
    return copied


def complete_s3(tree: TailTree, stitch: Stitch, tail: TailRef | None, refs: Sequence[Sequence[StripRef]],
                bucket: str, key: str, upload: str) -> int:
    """Upload part 1 (the header) and complete the upload; returns the object's size."""
    from sparkeo import storage

    client = storage.s3_client()
    first = stitch.head + b"\0" * stitch.pad
    reply = client.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=HEADER_PART, Body=first)
    parts = {HEADER_PART: reply["ETag"]}
    size = len(first)
    if tail is not None:
        parts[TAIL_PART] = tail.etag
        size += sum(sum(s) + FRAME * len(s) for s in tail.sizes) + tail.pad
    for _, own, ref, number in laid_out(tree, refs):
        parts[number] = ref.etags[own]
        size += ref.length(own) + ref.gap(own)
    client.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": parts[n]} for n in sorted(parts)]})
    return size
