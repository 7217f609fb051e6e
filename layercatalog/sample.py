"""The sample catalog: ``write_sample`` writes GeoTIFFs, a static STAC catalog (pystac, eo, proj and
raster extensions) and a ``layercatalog.json`` naming it; ``ensure_sample_catalog`` keeps one in the
cache folder for commands run without ``--catalog``.

Layout under DIR::

    layercatalog.json                      one collection, "sample-s2", data source ./catalog.json
    catalog.json
    sample-s2/collection.json
    sample-s2/<item id>/<item id>.json     Earth Search-like items
    sample-s2/<item id>/B02.tif ... SCL.tif  one single-band COG-style GeoTIFF per band
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from sparkeo.errors import ConfigError
from sparkeo.geometry import transform_ring

from layercatalog import samplescene

COLLECTION_ID = "sample-s2"
EPSG = 32633
RESOLUTION = 10.0
ORIGIN = (500000.0, 5100000.0)       # upper-left corner, UTM 33N (Slovenia/Austria border region)
BLOCK = 256
# Source layouts ``write_sample(block=...)`` writes: sparkeo's own 256 px tiled GeoTIFF (the default),
# COGs as GDAL's COG driver writes them with other block sizes, or a striped GeoTIFF.
BLOCK_LAYOUTS = ("256", "512", "1024", "2048", "strip")
# Series larger than SCENE_MAX px mirror a SCENE_MAX px series (numpy's symmetric padding): the
# landscape and cloud fields are float64 FFTs, minutes and GBs at 10980 px (one Sentinel-2 tile).
SCENE_MAX = 2048
MAX_SIZE = 16384
SAMPLE_VERSION = "1"                 # bump when the sample changes: cached samples are regenerated
BAND_META = {   # name: (common name, centre wavelength um, description)
    "B02": ("blue", 0.490, "Blue (band 2) - 10m"),
    "B03": ("green", 0.560, "Green (band 3) - 10m"),
    "B04": ("red", 0.665, "Red (band 4) - 10m"),
    "B08": ("nir", 0.842, "NIR 1 (band 8) - 10m"),
    "SCL": (None, None, "Scene classification map (Sen2Cor)"),
}
SCL_CLASSES = [(0, "no_data"), (3, "cloud_shadows"), (4, "vegetation"), (5, "not_vegetated"), (6, "water"),
               (8, "cloud_medium_probability"), (9, "cloud_high_probability"), (10, "thin_cirrus")]
DEFAULT_BANDS = ("B02", "B03", "B04", "B08", "SCL")


def write_sample(directory: str, size: int = 512, dates: int = 8, bands=DEFAULT_BANDS, seed: int = 0,
                 block: int | str = BLOCK) -> str:
    """Write the deterministic sample series into ``directory``; returns the ``layercatalog.json`` path.

    ``block``: the files' layout (``BLOCK_LAYOUTS``). 256 is sparkeo's own tiled GeoTIFF; 512, 1024
    and 2048 are written by GDAL's COG driver (deflate, internal overviews), as other tools publish
    them (public Sentinel-2 L2A COGs use 1024); ``"strip"`` is a striped (untiled) deflate GeoTIFF
    with GDAL's default strip height. The pixels are the same whatever the layout.
    """
    import pystac

    bands = tuple(bands)
    block = str(block)
    if block not in BLOCK_LAYOUTS:
        raise ConfigError("block", block, f"choose from {', '.join(BLOCK_LAYOUTS)}")
    unknown = [b for b in bands if b not in BAND_META]
    if unknown or not bands:
        raise ConfigError("bands", ",".join(bands), f"choose from {', '.join(DEFAULT_BANDS)}")
    if size < 16 or size > MAX_SIZE:
        raise ConfigError("size", size, f"expected 16..{MAX_SIZE} pixels")
    if dates < 1 or dates > 500:
        raise ConfigError("dates", dates, "expected 1..500")
    out = Path(directory).resolve()
    out.mkdir(parents=True, exist_ok=True)
    transform = (RESOLUTION, 0.0, ORIGIN[0], 0.0, -RESOLUTION, ORIGIN[1])
    scenes = samplescene.make_series(min(size, SCENE_MAX), dates, seed)

    collection = pystac.Collection(
        id=COLLECTION_ID,
        title="sparkeo sample: Sentinel-2 L2A-like time series",
        description=(f"Synthetic, deterministic (seed {seed}) Sentinel-2 L2A-like series: {dates} dates, "
                     f"{size}x{size} px at 10 m in EPSG:{EPSG}, bands {', '.join(bands)}."),
        license="CC0-1.0",
        extent=pystac.Extent(pystac.SpatialExtent([[-180, -90, 180, 90]]), pystac.TemporalExtent([[None, None]])),
    )
    for scene in scenes:
        collection.add_item(_item(scene, bands, out, size, transform, block))
    collection.update_extent_from_items()
    collection.summaries.add("eo:bands", [_eo_band(b) for b in bands])
    catalog = pystac.Catalog(id="sparkeo-sample", description="sparkeo sample data (synthetic Sentinel-2 L2A)")
    catalog.add_child(collection)
    catalog.normalize_hrefs(str(out))
    catalog.make_all_asset_hrefs_relative()
    catalog.save(catalog_type=pystac.CatalogType.SELF_CONTAINED)

    entry = layer_entry(collection.to_dict(include_self_link=False), bands, size, dates, seed)
    path = out / "layercatalog.json"
    path.write_text(json.dumps([entry], indent=2))
    return str(path)


def _item(scene, bands, out: Path, size: int, transform, block: str = str(BLOCK)):
    import pystac
    from pystac.extensions.eo import EOExtension
    from pystac.extensions.projection import ProjectionExtension

    item_id = f"S2A_33TVM_{scene.when:%Y%m%d}_0_L2A"
    folder = out / COLLECTION_ID / item_id
    folder.mkdir(parents=True, exist_ok=True)
    # Footprint: the image, minus the orbit-edge swath on dates that have one (like real granules).
    s = float(size)
    k, slope = samplescene.NODATA_EDGE
    if scene.has_nodata_edge and size <= SCENE_MAX:     # a mirrored series: its whole square
        ring_px = [(0, 0), (k * s, 0), (s, (s - k * s) / slope), (s, s), (0, s), (0, 0)]
    else:
        ring_px = [(0, 0), (s, 0), (s, s), (0, s), (0, 0)]
    ring = transform_ring([(transform[2] + c * transform[0], transform[5] + r * transform[4]) for c, r in ring_px],
                          EPSG, 4326)
    ring = [[round(x, 7), round(y, 7)] for x, y in ring]
    xs, ys = [p[0] for p in ring], [p[1] for p in ring]
    item = pystac.Item(
        id=item_id, geometry={"type": "Polygon", "coordinates": [ring]},
        bbox=[min(xs), min(ys), max(xs), max(ys)], datetime=scene.when,
        properties={"platform": "sentinel-2a", "constellation": "sentinel-2", "instruments": ["msi"],
                    "eo:cloud_cover": round(scene.cloud_fraction * 100, 3),
                    "s2:processing_baseline": "05.09", "mgrs:utm_zone": 33},
    )
    proj = ProjectionExtension.ext(item, add_if_missing=True)
    proj.epsg = EPSG
    proj.shape = [size, size]
    proj.transform = list(transform)
    EOExtension.add_to(item)
    item.stac_extensions.append("https://stac-extensions.github.io/raster/v1.1.0/schema.json")
    for band in bands:
        path = folder / f"{band}.tif"
        _write_tif(path, mirrored(scene.bands[band], size), transform, block)
        asset = pystac.Asset(href=str(path), media_type=pystac.MediaType.GEOTIFF,
                             title=BAND_META[band][2], roles=["data"])
        item.add_asset(band, asset)
        asset.extra_fields["eo:bands"] = [_eo_band(band)]
        asset.extra_fields["raster:bands"] = [_raster_band(band)]
    return item


def mirrored(array, size: int):
    """``array`` grown to ``size`` x ``size`` by mirroring it at its edges (unchanged when it has that size)."""
    import numpy as np

    grow = size - array.shape[0]
    return array if grow <= 0 else np.pad(array, ((0, grow), (0, size - array.shape[1])), mode="symmetric")


def _write_tif(path: Path, array, transform, block: str = str(BLOCK)) -> None:
    import rasterio
    from affine import Affine

    profile = dict(width=array.shape[1], height=array.shape[0], count=1, dtype=array.dtype.name,
                   crs=f"EPSG:{EPSG}", transform=Affine(*transform), nodata=0, compress="deflate")
    if block == str(BLOCK):
        profile.update(driver="GTiff", tiled=True, blockxsize=BLOCK, blockysize=BLOCK, predictor=2)
    elif block == "strip":      # GDAL's default strip height (strips of at most 8 KB uncompressed)
        profile.update(driver="GTiff", tiled=False)
    else:                       # the COG driver's defaults besides the block size: overviews included
        # deflating the blocks on every core: the same bytes, written in half the time on 2 cores
        profile.update(driver="COG", blocksize=int(block), num_threads="ALL_CPUS")
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(array, 1)


def _eo_band(name: str) -> dict:
    common, wavelength, description = BAND_META[name]
    out = {"name": name, "description": description}
    if common:
        out["common_name"] = common
        out["center_wavelength"] = wavelength
    return out


def _raster_band(name: str) -> dict:
    if name == "SCL":
        return {"nodata": 0, "data_type": "uint8", "spatial_resolution": RESOLUTION,
                "classification:classes": [{"value": v, "name": n} for v, n in SCL_CLASSES]}
    return {"nodata": 0, "data_type": "uint16", "spatial_resolution": RESOLUTION, "scale": 0.0001, "offset": 0}


def layer_entry(stac_collection: dict, bands, size: int, dates: int, seed: int) -> dict:
    """The ``layercatalog.json`` entry of the sample collection (openEO collection document + _sparkeo)."""
    eo_bands = []
    for name in bands:
        common, wavelength, description = BAND_META[name]
        if name == "SCL":
            eo_bands.append({"name": "SCL", "aliases": ["scl", "SCENE_CLASSIFICATION"], "nodata": 0, "scale": 1,
                             "offset": 0, "type": "uint8", "categorical": True, "gsd": RESOLUTION,
                             "description": description})
        else:
            eo_bands.append({"name": name, "common_name": common, "aliases": [common], "center_wavelength": wavelength,
                             "nodata": 0, "scale": 0.0001, "offset": 0, "type": "uint16", "gsd": RESOLUTION,
                             "description": description})
    extent = stac_collection["extent"]
    x0, y0 = ORIGIN
    return {
        "id": COLLECTION_ID,
        "title": stac_collection.get("title"),
        "description": stac_collection.get("description"),
        "license": "CC0-1.0",
        "extent": extent,
        "cube:dimensions": {
            "x": {"type": "spatial", "axis": "x", "reference_system": EPSG, "step": RESOLUTION,
                  "extent": [x0, x0 + size * RESOLUTION]},
            "y": {"type": "spatial", "axis": "y", "reference_system": EPSG, "step": RESOLUTION,
                  "extent": [y0 - size * RESOLUTION, y0]},
            "t": {"type": "temporal", "extent": extent["temporal"]["interval"][0]},
            "bands": {"type": "bands", "values": list(bands)},
        },
        "summaries": {"eo:bands": eo_bands},
        "_sparkeo": {
            "data_source": {"type": "stac", "url": "catalog.json", "collection": COLLECTION_ID},
            "apply_scale": False,
            "sample": {"version": SAMPLE_VERSION, "size": size, "dates": dates, "seed": seed},
        },
    }


def ensure_sample_catalog(settings) -> str:
    """The sample ``layercatalog.json`` in ``<cache_dir>/sample/``, generated on first use.

    Generated into a temporary folder and renamed into place, so concurrent first uses are safe.
    """
    target = Path(settings.cache_dir) / "sample"
    marker = target / f".complete-v{SAMPLE_VERSION}"
    if marker.exists():
        return str(target / "layercatalog.json")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".sample-"))
    try:
        write_sample(str(tmp))
        (tmp / marker.name).write_text("ok\n")
        if target.exists():
            shutil.rmtree(target, ignore_errors=True)
        try:
            os.rename(tmp, target)
        except OSError:          # another process won the race: use its copy
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return str(target / "layercatalog.json")


def default_catalog(settings) -> str:
    """``--catalog`` / ``SPARKEO_CATALOG`` when set, else the generated sample catalog."""
    return settings.catalog or ensure_sample_catalog(settings)
