"""fit_curve and predict_curve (1.2.0 proposals): a model ``y = f(x, parameters)`` fitted per pixel
along one dimension by least squares, and values predicted from the fitted parameters.

``x`` is the label's position: seconds since 1970-01-01 UTC for a temporal dimension (the openEO
clients' harmonic examples divide by 31557600 s, a year), the number itself for numeric labels.
Pixels fit independently and nodata values (NaN) are left out (``ignore_nodata``, the 2.0 parameter,
default true); a pixel with fewer valid values than parameters gets nodata. InvalidValues (1.2.0:
"invalid values are encountered", i.e. values that are not finite numbers): an infinite value in the
data always; NaN too with ``ignore_nodata=false`` (1.2.0 has no such parameter and fails on any);
and a dimension with fewer labels than parameters, which no pixel could fit (refused when the graph
is built, before Spark).

The model is called on the driver first: when it is linear in its parameters (checked on the labels:
``f(p) == f(0) + sum p_k (f(e_k) - f(0))`` at random ``p``, e.g. a harmonic series), every pixel
solves the same design matrix's normal equations at once, vectorised over the tile; otherwise each
pixel is fitted from the initial guess by Levenberg-Marquardt (scipy's curve_fit default), vectorised
over the tile too.

The fitted dimension is replaced by the parameters, labelled ``0 .. n-1``: as the ``bands`` dimension
when the cube has none left (so NDVI's fitted coefficients save as the bands of a GeoTIFF), else as a
dimension ``parameters`` of type other. predict_curve takes the parameters at that position.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from jobs.cube.derived import DerivedCube
from jobs.cube.lazy import CubeMeta, LazyCube
from jobs.errors import ProcessError, ProcessGraphError
from jobs.graph.callback import Callback
from jobs.processes.cubes import dimensions_of_type, require_dimension
from jobs.processes.labeled import LabeledArray, is_number
from jobs.processes.registry import Param, process
from jobs.plan.timelabels import parse_instant

_EPOCH = parse_instant("1970-01-01T00:00:00Z")


def label_positions(meta: CubeMeta, dimension: str, labels: Sequence, argument: str = "data") -> np.ndarray:
    """``x`` of each label: epoch seconds on a temporal dimension, else the numeric label."""
    temporal = dimension in dimensions_of_type(meta, "temporal")
    try:
        if temporal:
            return np.array([(parse_instant(v) - _EPOCH).total_seconds() for v in labels], dtype=np.float64)
        if all(is_number(v) for v in labels):
            return np.asarray(labels, dtype=np.float64)
    except (TypeError, ValueError):
        pass
    raise ProcessGraphError(None, argument, f"the labels of {dimension!r} are neither dates nor numbers: "
                                            f"{list(labels)[:3]}")


def _model(function: Callback) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """``f(x, p)`` as a float64 array of ``x``'s shape, ``p`` along axis 0 (pixels may follow)."""

    def f(x: np.ndarray, p: np.ndarray) -> np.ndarray:
        out = function(x=x, parameters=LabeledArray(np.asarray(p, dtype=np.float64)))
        if isinstance(out, LabeledArray):
            out = out.values
        out = np.asarray(np.nan if out is None else out, dtype=np.float64)
        return np.broadcast_to(out, np.broadcast_shapes(out.shape, x.shape))

    return f


def linear_design(f: Callable, x: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray] | None:
    """(offset ``f(x, 0)``, design matrix ``[f(x, e_k) - f(x, 0)]``) when ``f`` is linear in its
    parameters on ``x``, else None."""
    with np.errstate(all="ignore"):
        offset = f(x, np.zeros(n))
        design = np.stack([f(x, np.eye(n)[k]) - offset for k in range(n)], axis=1)
        rng = np.random.default_rng(0)
        for _ in range(2):
            p = rng.normal(scale=3.0, size=n)
            got = f(x, p)
            want = offset + design @ p
            if not np.all(np.isfinite(got)) or not np.allclose(got, want, rtol=1e-7, atol=1e-9 * (1 + np.abs(want).max())):
                return None
    if not np.all(np.isfinite(design)) or not np.all(np.isfinite(offset)):
        return None
    return offset, design


def fit_linear(y: np.ndarray, offset: np.ndarray, design: np.ndarray) -> np.ndarray:
    """Least-squares parameters per pixel: ``y`` is (n_x, pixels) with NaN gaps -> (n_params, pixels)."""
    valid = ~np.isnan(y)
    w = valid.astype(np.float64)
    b = np.where(valid, y - offset[:, None], 0.0)
    normal = np.einsum("tk,tl,tp->pkl", design, design, w)
    rhs = np.einsum("tk,tp->pk", design, b)
    n = design.shape[1]
    with np.errstate(all="ignore"):
        params = np.einsum("pkl,pl->pk", np.linalg.pinv(normal, hermitian=True), rhs)
    params[valid.sum(axis=0) < n] = np.nan
    return params.T


def fit_nonlinear(y: np.ndarray, x: np.ndarray, f: Callable, guess: np.ndarray, iterations: int = 200) -> np.ndarray:
    """Levenberg-Marquardt for every pixel at once: ``y`` (n_x, pixels) with NaN gaps -> (n_params, pixels).

    The model runs on all pixels per step (``parameters`` carries one value per pixel), the Jacobian by
    forward differences, as MINPACK's ``lmdif`` behind scipy's curve_fit; a pixel whose fit fails is nodata.
    """
    valid = ~np.isnan(y)
    target = np.where(valid, y, 0.0)
    n = len(guess)
    xs = x[:, None]
    p = np.repeat(guess[:, None].astype(np.float64), y.shape[1], axis=1)
    damping = np.full(y.shape[1], 1e-3)

    def residuals(params: np.ndarray) -> np.ndarray:
        return np.where(valid, f(xs, params) - target, 0.0)

    with np.errstate(all="ignore"):
        r = residuals(p)
        cost = (r * r).sum(axis=0)
        for _ in range(iterations):
            step = np.sqrt(np.finfo(np.float64).eps) * np.maximum(np.abs(p), 1e-8)
            jac = np.stack([(residuals(p + step[k] * np.eye(n)[k][:, None]) - r) / step[k] for k in range(n)], axis=1)
            jtj = np.einsum("tkp,tlp->pkl", jac, jac)
            grad = np.einsum("tkp,tp->pk", jac, r)
            scaled = jtj + damping[:, None, None] * jtj * np.eye(n)
            delta = -np.einsum("pkl,pl->pk", np.linalg.pinv(scaled), grad).T
            trial = p + delta
            r_trial = residuals(trial)
            cost_trial = (r_trial * r_trial).sum(axis=0)
            better = np.isfinite(cost_trial) & (cost_trial < cost)
            p = np.where(better, trial, p)
            r = np.where(better, r_trial, r)
            converged = np.abs(cost - cost_trial) <= 1e-15 * (1 + cost)
            cost = np.where(better, cost_trial, cost)
            damping = np.where(better, damping / 3, damping * 2)
            if np.all(converged | ~np.isfinite(cost_trial) | (damping > 1e12)):
                break
    p[:, (valid.sum(axis=0) < n) | ~np.isfinite(cost)] = np.nan
    return p


def _parameters_dimension(meta: CubeMeta, dimension: str) -> tuple[str, str]:
    """(name, type) of the dimension the fitted parameters take ``dimension``'s place as."""
    others = [d for d in dimensions_of_type(meta, "bands") if d != dimension]
    if others or ("bands" in meta.dims and dimension != "bands"):
        if "parameters" in meta.dims and dimension != "parameters":
            raise ProcessError("TargetDimensionExists", "the cube has a dimension 'parameters' already",
                               argument="data")
        return "parameters", "other"
    return "bands", "bands"





@process("fit_curve", Param("data", kind="cube"), Param("parameters", kind="array"),
         Param("function", kind="callback", callback_params=("x", "parameters")), Param("dimension", kind="string"),
         Param("ignore_nodata", True, "boolean"), kind="cube")
def fit_curve(ctx, node_id, data: LazyCube, parameters, function: Callback, dimension: str,
              ignore_nodata: bool = True):
    """Per pixel, the parameters of ``function`` fitting the values along ``dimension`` (least squares)."""
    meta = data.meta
    require_dimension(meta, dimension)
    if dimension in ("x", "y") or meta.dim_types.get(dimension) == "spatial":
        raise ProcessGraphError(None, "dimension", "fit_curve along a spatial dimension is not supported")
    guess = np.asarray(_numbers(parameters), dtype=np.float64)
    if guess.size == 0:
        raise ProcessGraphError(None, "parameters", "at least one parameter (initial guess) is required")
    x = label_positions(meta, dimension, meta.labels[dimension])
    if len(x) < len(guess):
        raise ProcessError("InvalidValues", f"{len(x)} value(s) along {dimension!r} cannot determine "
                                            f"{len(guess)} parameters", argument="data")
    f = _model(function)
    try:
        linear = linear_design(f, x, len(guess))
    except (ProcessError, ProcessGraphError):
        raise
    except (TypeError, ValueError, IndexError, KeyError) as e:
        raise ProcessGraphError(None, "function", f"the model function fails: {str(e) or repr(e)}") from None
    axis = meta.axis(dimension)

    def fit(a: np.ndarray) -> np.ndarray:
        values = np.moveaxis(a, axis, 0).astype(np.float64)
        y = values.reshape(values.shape[0], -1)
        check_values(y, ignore_nodata is not False, node_id)
        p = fit_linear(y, *linear) if linear is not None else fit_nonlinear(y, x, f, guess)
        return np.moveaxis(p.reshape((len(guess),) + values.shape[1:]), 0, axis)

    name, kind = _parameters_dimension(meta, dimension)
    dims = tuple(name if d == dimension else d for d in meta.dims)
    labels = {(name if d == dimension else d): v for d, v in meta.labels.items()}
    labels[name] = tuple(range(len(guess)))
    types = {(name if d == dimension else d): v for d, v in meta.dim_types.items()}
    types[name] = kind
    out = meta.replace(dims=dims, labels=labels, dim_types=types, periods={},
                       band_aliases={} if kind == "bands" else meta.band_aliases)
    return DerivedCube(node_id, out.computed(), (data,), fit)


def check_values(y: np.ndarray, ignore_nodata: bool, node_id: str) -> None:
    """InvalidValues when ``y`` holds an infinite value, or NaN (nodata) unless ``ignore_nodata``."""
    bad = ~np.isfinite(y) if not ignore_nodata else np.isinf(y)
    if bad.any():
        value = y[bad].flat[0]
        what = "nodata (NaN) and ignore_nodata is false" if np.isnan(value) else f"{value}"
        raise ProcessError("InvalidValues", f"at least one of the values is not a finite number: {what}",
                           node_id, "data")


def _numbers(values: Any) -> list:
    if isinstance(values, LabeledArray):
        values = values.values.tolist()
    if not isinstance(values, (list, tuple)) or not all(is_number(v) for v in values):
        raise ProcessGraphError(None, "parameters", f"an array of numbers is expected, got {values!r}")
    return list(values)


@process("predict_curve", Param("data", kind="cube"), Param("parameters", kind="cube"),
         Param("function", kind="callback", callback_params=("x", "parameters")), Param("dimension", kind="string"),
         Param("labels", None, "array"), kind="cube")
def predict_curve(ctx, node_id, data: LazyCube, parameters: LazyCube, function: Callback, dimension: str,
                  labels=None):
    """``function`` with each pixel's fitted ``parameters`` at ``labels`` along ``dimension``; without
    labels, the nodata values of ``data`` are filled with predictions."""
    meta, pmeta = data.meta, parameters.meta
    require_dimension(meta, dimension)
    axis = meta.axis(dimension)
    others = [d for d in meta.dims if d != dimension]
    if len(pmeta.dims) != len(meta.dims) or [d for i, d in enumerate(pmeta.dims) if i != axis] != others:
        raise ProcessError("DimensionMismatch", f"parameters has dimensions {pmeta.dims}: expected those of data "
                                                f"{meta.dims} with the parameters in place of {dimension!r}",
                           argument="parameters")
    if meta.grid != pmeta.grid:
        raise ProcessError("DimensionMismatch", "parameters lies on another spatial grid than data",
                           argument="parameters")
    f = _model(function)
    targets = tuple(meta.labels[dimension]) if labels is None else tuple(labels)
    x = label_positions(meta, dimension, targets, "labels")
    n_params = len(pmeta.labels[pmeta.dims[axis]])
    try:
        with np.errstate(all="ignore"):
            f(x, np.ones(n_params))
    except (ProcessError, ProcessGraphError):
        raise
    except (TypeError, ValueError, IndexError, KeyError) as e:
        raise ProcessGraphError(None, "function", f"the model function fails: {str(e) or repr(e)}") from None

    def predict(p: np.ndarray) -> np.ndarray:
        params = np.moveaxis(p, axis, 0).astype(np.float64)
        xs = x.reshape((len(x),) + (1,) * (params.ndim - 1))
        return np.moveaxis(f(xs, params), 0, axis)

    if labels is None:
        out = meta.computed()
        return DerivedCube(node_id, out, (data, parameters),
                           lambda a, p: np.where(np.isnan(a), predict(p), a))
    out = meta.replace(labels={**meta.labels, dimension: targets}, periods={}).computed()
    return DerivedCube(node_id, out, (parameters,), predict)
