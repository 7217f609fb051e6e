"""Geometries in: GeoJSON (a Geometry, Feature or FeatureCollection) inline, from a path, s3:// or http(s).

``read_geometries`` turns what a graph gives as ``geometries`` (or ``load_geojson``'s ``data``) into
``Geometries``: one immutable value holding the features in order, their ids and properties, and
the CRS they are in (a legacy ``crs`` member of the document, else EPSG:4326 as RFC 7946 says).
A feature whose geometry is missing, malformed or invalid (self-intersecting ring...) is the user's
error, naming the feature's index and id, raised on the driver before Spark starts.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from jobs.errors import ProcessError, ProcessGraphError
from sparkeo import geometry, jsondoc, storage
from sparkeo.errors import NotFoundInStorage, NotText, StorageError
from sparkeo.readpolicy import ReadPolicy, ReadRefused, reading_for_user

DEFAULT_CRS = "EPSG:4326"
URL_SCHEMES = ("http://", "https://")


@dataclass(frozen=True)
class Geometries:
    """Features in input order: WKB geometries, their ids (or None) and properties, in ``crs``."""

    wkb: tuple[bytes, ...]
    ids: tuple[Any, ...]
    properties: tuple[Mapping[str, Any], ...]
    crs: Any = DEFAULT_CRS
    # the property names load_geojson was asked to keep (None: all of them)
    keep: tuple[str, ...] | None = field(default=None)

    def __len__(self) -> int:
        return len(self.wkb)

    def shapes(self) -> list:
        """The shapely geometries."""
        import shapely

        return list(shapely.from_wkb(list(self.wkb))) if self.wkb else []

    def to_crs(self, crs) -> "Geometries":
        """The same features in ``crs`` (themselves when the CRS is the same)."""
        import shapely

        if geometry.same_crs(self.crs, crs):
            return self
        transformer = geometry.transformer(self.crs, crs)
        moved = [shapely.transform(g, lambda x, y: transformer.transform(x, y), interleaved=False)
                 for g in self.shapes()]
        return Geometries(tuple(shapely.to_wkb(moved)), self.ids, self.properties, crs, self.keep)

    def bounds(self) -> tuple[float, float, float, float]:
        """The bounding box of all features (in ``crs``)."""
        import shapely

        return tuple(shapely.total_bounds(self.shapes()).tolist())

    def property_names(self) -> tuple[str, ...]:
        """The property columns of a table of these features, in first-seen order."""
        if self.keep is not None:
            return self.keep
        names: dict[str, None] = {}
        for props in self.properties:
            names.update(dict.fromkeys(props))
        return tuple(names)


def read_geometries(value: Any, argument: str = "geometries", policy: ReadPolicy | None = None) -> Geometries:
    """``value`` as ``Geometries``: a GeoJSON object, a path, an ``s3://`` or ``http(s)://`` URL (read
    if ``policy`` allows it), or ``Geometries`` already (from ``load_geojson``). Errors are
    ``ProcessGraphError`` naming ``argument``, a location the policy refuses ``ProcessError``."""
    if isinstance(value, Geometries):
        return value
    if isinstance(value, str):
        value = _fetch(value, argument, policy or ReadPolicy())
    if not isinstance(value, dict) or not isinstance(value.get("type"), str):
        raise ProcessGraphError(None, argument, "expected GeoJSON (a Geometry, Feature or FeatureCollection) "
                                                "or its path or URL")
    kind = value["type"]
    if kind == "FeatureCollection":
        features = value.get("features")
        if not isinstance(features, list):
            raise ProcessGraphError(None, argument, "a FeatureCollection needs a list of features")
    elif kind == "Feature":
        features = [value]
    else:
        features = [{"type": "Feature", "geometry": value, "properties": {}}]
    wkb, ids, props = [], [], []
    for index, feature in enumerate(features):
        fid = feature.get("id") if isinstance(feature, dict) else None
        wkb.append(_feature_geometry(feature, index, fid, argument))
        ids.append(fid)
        properties = feature.get("properties") if isinstance(feature, dict) else None
        props.append(dict(properties) if isinstance(properties, dict) else {})
    return Geometries(tuple(wkb), tuple(ids), tuple(props), _declared_crs(value, argument))


def _feature_geometry(feature: Any, index: int, fid: Any, argument: str) -> bytes:
    """One feature's geometry as WKB; a missing, malformed or invalid one names the feature."""
    import shapely
    from shapely.geometry import shape

    def bad(reason: str) -> ProcessGraphError:
        named = f"feature {index}" + (f" (id {fid!r})" if fid is not None else "")
        return ProcessGraphError(None, argument, f"{named}: {reason}")

    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        raise bad("expected a GeoJSON Feature")
    raw = feature.get("geometry")
    if not isinstance(raw, dict):
        raise bad("has no geometry")
    try:
        geom = shape(raw)
    except (ValueError, TypeError, AttributeError, KeyError, IndexError, shapely.errors.ShapelyError) as e:
        raise bad(f"malformed {raw.get('type', 'geometry')}: {str(e) or repr(e)}") from None
    if geom.is_empty:
        raise bad("the geometry is empty")
    if not geom.is_valid:
        raise bad(f"invalid {geom.geom_type}: {shapely.is_valid_reason(geom)}")
    return geom.wkb


def _declared_crs(doc: Mapping, argument: str):
    """The document's (legacy GeoJSON 2008) ``crs`` member, else EPSG:4326."""
    crs = doc.get("crs")
    if crs is None:
        return DEFAULT_CRS
    name = (crs.get("properties") or {}).get("name") if isinstance(crs, dict) else None
    try:
        return geometry.crs_of(name if name is not None else crs)
    except geometry.UnknownCRSError as e:
        raise ProcessGraphError(None, argument, f"unknown crs {name or crs!r}: {e.reason}") from None


def _fetch(uri: str, argument: str, policy: ReadPolicy) -> Any:
    """The GeoJSON document at a path, ``s3://`` or ``http(s)://`` URL (redirects checked by the policy)."""
    verb = "fetch" if uri.startswith(URL_SCHEMES) else "read"
    try:
        with reading_for_user(policy):
            policy.check(uri)
            text = storage.read_text(uri)
    except ReadRefused as e:
        raise ProcessError("ProcessArgumentInvalid", str(e), argument=argument) from None
    except (NotFoundInStorage, NotText, StorageError) as e:
        raise ProcessGraphError(None, argument, f"cannot {verb} {uri!r}: {str(e)}") from None
    try:
        return jsondoc.loads(text)
    except jsondoc.JsonDocumentError as e:
        raise ProcessGraphError(None, argument, f"{uri!r} is not GeoJSON: {e}") from None
