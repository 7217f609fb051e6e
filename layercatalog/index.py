"""A spatio-temporal index of a static STAC catalog: SQLite with an R*Tree on bbox, B-tree on time.

The catalog is walked once (``stacwalk``) and its items stored as compact JSON records
(``items.compact_item``). The index file lives in the cache folder (``Settings.cache_dir``), never next
to the catalog, under a name derived from the catalog URL and the index format version. It records
the fingerprint (size+mtime or ETag) of every catalog and collection document it walked; opening it
again only stats those documents, and rebuilds the index when any of them changed. A rebuild writes
a new file and renames it into place, so concurrent readers never see a half-built index.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import sqlite3
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import orjson

from layercatalog import stacwalk
from layercatalog.errors import InvalidCatalogError
from layercatalog.items import compact_item

log = logging.getLogger(__name__)

FORMAT_VERSION = 5               # 5: STAC 1.1 asset-level data_type/scale/offset kept
INSERT_BATCH = 2000


def index_path(cache_dir: str, catalog_url: str) -> Path:
    """Where the index of ``catalog_url`` is kept."""
    key = hashlib.sha256(f"{FORMAT_VERSION}\n{catalog_url}".encode()).hexdigest()[:24]
    return Path(cache_dir) / "stac-index" / f"{key}.sqlite"


def _epoch(t: dt.datetime) -> float:
    return t.timestamp()


@dataclass
class StacIndex:
    """An open index: ``search`` returns compact item records; ``built`` tells if this open walked."""

    path: Path
    catalog_url: str
    built: bool
    _db: sqlite3.Connection
    _extent_cache: object = field(default=None, repr=False)

    @classmethod
    def open(cls, catalog_url: str, cache_dir: str) -> "StacIndex":
        """Open the index of ``catalog_url``, building or rebuilding it when missing or stale."""
        path = index_path(cache_dir, catalog_url)
        if path.exists():
            db = _connect(path)
            if _is_current(db, catalog_url):
                return cls(path, catalog_url, False, db)
            db.close()
            log.info("catalog changed, rebuilding index", extra={"href": catalog_url})
        _build(catalog_url, path)
        return cls(path, catalog_url, True, _connect(path))

    def close(self) -> None:
        self._db.close()

    def collections(self) -> dict[str, dict]:
        """STAC collection id -> collection document (without links), as found by the walk."""
        return json.loads(self._meta("collections") or "{}")

    def item_collections(self) -> list[str]:
        """Distinct collection ids of the indexed items (recorded at build time: no table scan)."""
        return json.loads(self._meta("item_collections") or "[]")

    def count(self) -> int:
        return int(self._meta("items") or 0)

    def search(self, collection: str | None, bbox: tuple[float, float, float, float] | None,
               start: dt.datetime | None, end: dt.datetime | None, filters=(), page_size=None) -> Iterator[dict]:
        """Records intersecting ``bbox`` (EPSG:4326) with ``start <= datetime < end``, by datetime then id.
        ``filters`` (property filters) are left to the caller, ``page_size`` is an API's matter
        (``layercatalog.source.ItemSource``)."""
        where, args = [], []
        source = "items i"
        if bbox is not None:
            # SQLite would walk the time index and probe the R*Tree per row; when the box is the more
            # selective condition, CROSS JOIN makes the R*Tree the outer loop instead.
            first = "items_bbox r CROSS JOIN items i" if self._space_first(bbox, start, end) else "items i JOIN items_bbox r"
            source = f"{first} ON r.id = i.rowid"
            where += ["r.minx <= ?", "r.maxx >= ?", "r.miny <= ?", "r.maxy >= ?"]
            args += [bbox[2], bbox[0], bbox[3], bbox[1]]
        if collection is not None:
            where.append("i.collection = ?")
            args.append(collection)
        if start is not None:
            where.append("i.t >= ?")
            args.append(_epoch(start))
        if end is not None:
            where.append("i.t < ?")
            args.append(_epoch(end))
        sql = f"SELECT i.doc FROM {source}"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY i.t, i.item_id"
        for (doc,) in self._db.execute(sql, args):
            record = orjson.loads(doc)
            # The R*Tree stores 32-bit floats rounded outwards: recheck the exact box.
            if bbox is None or _intersects(record["bbox"], bbox):
                yield record

    def matched(self, collection, bbox, start, end, filters=()) -> int | None:
        """None: a static index counts by searching (``layercatalog.source.ItemSource``)."""
        return None

    def _space_first(self, bbox, start, end) -> bool:
        """True when the bbox selects a smaller fraction of the items' extent than the interval does."""
        extent = self._extent()
        if extent is None:
            return True
        (w, s, e, n), (t0, t1) = extent
        area = max((e - w) * (n - s), 1e-12)
        overlap = max(0.0, min(e, bbox[2]) - max(w, bbox[0])) * max(0.0, min(n, bbox[3]) - max(s, bbox[1]))
        span = max(t1 - t0, 1.0)
        lo = t0 if start is None else max(t0, _epoch(start))
        hi = t1 if end is None else min(t1, _epoch(end))
        return overlap / area <= max(0.0, hi - lo) / span

    def _extent(self):
        """[[west, south, east, north], [t_min, t_max]] of all items, recorded at build time."""
        if self._extent_cache is None:
            raw = self._meta("extent")
            self._extent_cache = json.loads(raw) if raw else ()
        return self._extent_cache or None

    def _meta(self, key: str) -> str:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else ""


def _intersects(a, b) -> bool:
    return a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(str(path), check_same_thread=False)
    return db


def _is_current(db: sqlite3.Connection, catalog_url: str) -> bool:
    try:
        meta = dict(db.execute("SELECT key, value FROM meta"))
    except sqlite3.DatabaseError:
        return False
    if meta.get("version") != str(FORMAT_VERSION) or meta.get("url") != catalog_url:
        return False
    return stacwalk.containers_unchanged(json.loads(meta.get("containers", "[]")))


def _build(catalog_url: str, path: Path) -> None:
    """Walk the catalog once and write a fresh index file, renamed into place when complete."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        db = sqlite3.connect(tmp)
        db.executescript("""
            PRAGMA page_size = 16384;
            PRAGMA journal_mode = OFF;
            PRAGMA synchronous = OFF;
            CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
            CREATE TABLE items (rowid INTEGER PRIMARY KEY, collection TEXT, item_id TEXT, t REAL, doc BLOB);
            CREATE VIRTUAL TABLE items_bbox USING rtree(id, minx, maxx, miny, maxy);
        """)
        walked = stacwalk.WalkResult()
        rows, boxes, n = [], [], 0
        collections: set[str] = set()
        west = south = t_min = float("inf")
        east = north = t_max = float("-inf")
        for item in stacwalk.walk(catalog_url, walked):
            try:
                record = compact_item(item.doc, item.uri, item.collection_id)
            except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
                # ValueError names the field; the others: a type compact_item did not foresee
                raise InvalidCatalogError(item.uri, _item_id(item.doc), str(exc) or repr(exc)) from None
            if record is None:
                log.warning("item without datetime or footprint skipped", extra={"item": item.uri})
                continue
            n += 1
            t = dt.datetime.fromisoformat(record["datetime"]).timestamp()
            rows.append((n, record["collection"], record["id"], t, orjson.dumps(record)))
            b = record["bbox"]
            boxes.append((n, b[0], b[2], b[1], b[3]))
            collections.add(record["collection"])
            west, south, east, north = min(west, b[0]), min(south, b[1]), max(east, b[2]), max(north, b[3])
            t_min, t_max = min(t_min, t), max(t_max, t)
            if len(rows) >= INSERT_BATCH:
                _flush(db, rows, boxes)
        _flush(db, rows, boxes)
        db.execute("CREATE INDEX items_time ON items (collection, t, item_id)")
        db.executemany("INSERT INTO meta VALUES (?, ?)", [
            ("version", str(FORMAT_VERSION)), ("url", catalog_url),
            ("containers", json.dumps(walked.containers)),
            ("collections", json.dumps(walked.collections)),
            ("items", str(n)),
            ("item_collections", json.dumps(sorted(c for c in collections if c is not None))),
            ("extent", json.dumps([[west, south, east, north], [t_min, t_max]]) if n else ""),
        ])
        db.commit()
        db.close()
        os.replace(tmp, path)
        log.info("indexed %d items", n, extra={"href": catalog_url})
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _item_id(doc: dict) -> str | None:
    return str(doc.get("id"))[:80] if doc.get("id") is not None else None


def _flush(db: sqlite3.Connection, rows: list, boxes: list) -> None:
    db.executemany("INSERT INTO items VALUES (?, ?, ?, ?, ?)", rows)
    db.executemany("INSERT INTO items_bbox VALUES (?, ?, ?, ?, ?)", boxes)
    rows.clear()
    boxes.clear()
