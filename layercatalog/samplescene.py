"""Synthetic Sentinel-2 L2A scenes for the sample catalog: pure numpy, deterministic by seed.

A landscape of crop parcels, forest, bare soil and a lake (smooth random fields, FFT-filtered) whose
NDVI follows the season; per date a cloud field covering a chosen fraction (SCL 8/9/10, bright in
every band), the clouds' shadows displaced by the sun angle (SCL 3, darker), an orbit-edge nodata
swath on every other date (all bands 0, SCL 0) and sensor noise, so the files compress like real ones.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

REFLECTANCE_BANDS = ("B02", "B03", "B04", "B08")
SCL = "SCL"
# Sen2Cor scene classes used here.
SCL_NODATA, SCL_SHADOW, SCL_VEGETATION, SCL_BARE, SCL_WATER = 0, 3, 4, 5, 6
SCL_CLOUD_MEDIUM, SCL_CLOUD_HIGH, SCL_CIRRUS = 8, 9, 10
CLOUD_CLASSES = (SCL_CLOUD_MEDIUM, SCL_CLOUD_HIGH, SCL_CIRRUS)
MAX_CLOUD_FRACTION = 0.55
SENSOR_NOISE = 0.001           # reflectance units (10 DN): with deflate+predictor the files compress ~1.9x
SHADOW_SHIFT = (14, -18)       # rows, cols: shadows fall north-west of the clouds
NODATA_EDGE = (0.82, 0.35)     # swath edge: col > 0.82 * size + 0.35 * row is outside the orbit


@dataclass(frozen=True)
class Scene:
    """One date: reflectance bands (uint16, x10000, 0 = nodata), SCL (uint8) and its statistics."""

    when: dt.datetime
    bands: dict[str, np.ndarray]
    cloud_fraction: float        # of valid pixels, from SCL
    has_nodata_edge: bool


def smooth_field(rng: np.random.Generator, size: int, scale_px: float) -> np.ndarray:
    """Zero-mean, unit-variance noise smoothed with a Gaussian of ``scale_px`` (via FFT)."""
    noise = rng.standard_normal((size, size))
    freq = np.fft.fftfreq(size)
    fy, fx = np.meshgrid(freq, freq, indexing="ij")
    kernel = np.exp(-2.0 * (np.pi * scale_px) ** 2 * (fx ** 2 + fy ** 2))
    field = np.real(np.fft.ifft2(np.fft.fft2(noise) * kernel))
    field -= field.mean()
    return field / (field.std() or 1.0)


def acquisition_dates(count: int, year: int = 2023) -> list[dt.datetime]:
    """``count`` dates on the 5-day Sentinel-2 revisit, spread over the growing season."""
    step = 5 * max(1, 240 // (5 * max(count, 1)))
    first = dt.datetime(year, 3, 5, 10, 0, 31, tzinfo=dt.timezone.utc)
    return [first + dt.timedelta(days=step * i) for i in range(count)]


def nodata_edge(size: int) -> np.ndarray:
    """The orbit-edge swath (True outside the orbit): a diagonal strip at the top-right corner."""
    rows, cols = np.mgrid[0:size, 0:size]
    return cols > NODATA_EDGE[0] * size + NODATA_EDGE[1] * rows


@dataclass(frozen=True)
class Landscape:
    """The static ground: land-cover class, parcel phenology and brightness fields."""

    water: np.ndarray
    bare: np.ndarray
    vigor: np.ndarray        # 0..1 peak greenness
    phase: np.ndarray        # days of green-up shift per parcel
    brightness: np.ndarray   # soil brightness variation


def make_landscape(rng: np.random.Generator, size: int) -> Landscape:
    terrain = smooth_field(rng, size, size / 10) + 0.4 * smooth_field(rng, size, size / 40)
    water = terrain < np.quantile(terrain, 0.06)
    # Parcels: rectangles of 24-64 px with their own crop calendar and vigour.
    parcel_rows = np.cumsum(rng.integers(24, 64, size)) // 1
    parcel_cols = np.cumsum(rng.integers(24, 64, size)) // 1
    prow = np.searchsorted(parcel_rows, np.arange(size), side="right")
    pcol = np.searchsorted(parcel_cols, np.arange(size), side="right")
    parcel = prow[:, None] * 1000 + pcol[None, :]
    ids, inverse = np.unique(parcel, return_inverse=True)
    parcel_vigor = rng.uniform(0.45, 1.0, len(ids))[inverse].reshape(size, size)
    parcel_phase = rng.uniform(-40, 40, len(ids))[inverse].reshape(size, size)
    parcel_bare = (rng.uniform(0, 1, len(ids)) < 0.15)[inverse].reshape(size, size)
    texture = 0.12 * smooth_field(rng, size, 3)
    vigor = np.clip(parcel_vigor + texture, 0.05, 1.0)
    return Landscape(
        water=water,
        bare=parcel_bare & ~water,
        vigor=vigor,
        phase=parcel_phase,
        brightness=0.5 + 0.5 * np.tanh(smooth_field(rng, size, size / 16)),
    )


def surface_reflectance(land: Landscape, when: dt.datetime) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Cloud-free reflectance (0..1) per band and NDVI for one date."""
    doy = when.timetuple().tm_yday
    season = 0.5 - 0.5 * np.cos(2 * np.pi * (doy - 10 - land.phase) / 365.0)   # 0 winter .. 1 early July
    ndvi = np.where(land.bare, 0.12 + 0.03 * land.brightness, 0.18 + 0.65 * season * land.vigor)
    ndvi = np.where(land.water, -0.35, ndvi)
    red = np.where(land.water, 0.025, 0.02 + 0.11 * (1 - np.clip(ndvi, 0, 1)) + 0.05 * land.brightness * land.bare)
    nir = red * (1 + ndvi) / (1 - ndvi)
    green = np.where(land.water, 0.035, 0.75 * red + 0.05 * np.clip(ndvi, 0, 1) + 0.02)
    blue = np.where(land.water, 0.04, 0.6 * red + 0.02)
    return {"B02": blue, "B03": green, "B04": red, "B08": nir}, ndvi


def make_scene(rng: np.random.Generator, land: Landscape, when: dt.datetime, cloud_target: float,
               edge: bool) -> Scene:
    """One date's bands (all of ``REFLECTANCE_BANDS`` and SCL)."""
    size = land.water.shape[0]
    reflectance, ndvi = surface_reflectance(land, when)
    scl = np.where(land.water, SCL_WATER, np.where(ndvi > 0.35, SCL_VEGETATION, SCL_BARE)).astype(np.uint8)

    field = smooth_field(rng, size, size / 18) + 0.35 * smooth_field(rng, size, size / 80)
    cloud = np.zeros((size, size), bool)
    thickness = np.zeros((size, size))
    if cloud_target > 0:
        threshold = np.quantile(field, 1 - cloud_target)
        cloud = field > threshold
        thickness = np.clip((field - threshold) / (field.max() - threshold + 1e-9), 0, 1)
    shadow = np.zeros_like(cloud)
    dy, dx = SHADOW_SHIFT
    shadow[max(dy, 0):size + min(dy, 0), max(dx, 0):size + min(dx, 0)] = \
        cloud[max(-dy, 0):size + min(-dy, 0), max(-dx, 0):size + min(-dx, 0)]
    shadow &= ~cloud

    out = {}
    alpha = np.where(cloud, 0.35 + 0.65 * np.sqrt(thickness), 0.0)
    for i, name in enumerate(REFLECTANCE_BANDS):
        surface = reflectance[name] * np.where(shadow, 0.35, 1.0)
        cloud_top = 0.42 + 0.04 * i + 0.05 * land.brightness
        value = (1 - alpha) * surface + alpha * cloud_top
        value = value + rng.normal(0, SENSOR_NOISE, value.shape)
        out[name] = np.clip(np.round(value * 10000), 1, 65535).astype(np.uint16)

    if cloud.any():
        levels = np.quantile(thickness[cloud], [0.15, 0.5])
        scl = np.where(cloud & (thickness <= levels[0]), SCL_CIRRUS, scl)
        scl = np.where(cloud & (thickness > levels[0]) & (thickness <= levels[1]), SCL_CLOUD_MEDIUM, scl)
        scl = np.where(cloud & (thickness > levels[1]), SCL_CLOUD_HIGH, scl)
    scl = np.where(shadow, SCL_SHADOW, scl).astype(np.uint8)

    outside = nodata_edge(size) if edge else np.zeros((size, size), bool)
    for name in REFLECTANCE_BANDS:
        out[name][outside] = 0
    scl[outside] = SCL_NODATA
    out[SCL] = scl
    valid = ~outside
    fraction = float(np.isin(scl[valid], CLOUD_CLASSES).mean()) if valid.any() else 0.0
    return Scene(when, out, fraction, edge)


def make_series(size: int, dates: int, seed: int) -> list[Scene]:
    """The whole deterministic series: ``dates`` scenes of ``size`` x ``size`` pixels."""
    rng = np.random.default_rng(seed)
    land = make_landscape(rng, size)
    when = acquisition_dates(dates)
    # Cloud cover from clear to MAX_CLOUD_FRACTION, in a seed-dependent order.
    targets = rng.permutation(np.linspace(0.0, MAX_CLOUD_FRACTION, dates)) if dates > 1 else np.array([0.2])
    return [make_scene(rng, land, t, float(c), edge=(i % 2 == 0)) for i, (t, c) in enumerate(zip(when, targets))]
