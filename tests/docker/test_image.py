"""The image, built for real: buildah on a debootstrap base (scripts/build-image.sh), its driver run.

The first build takes minutes (debootstrap, the JDK, pip install); it is cached under build/image/ and
reused while docker/, the packages and the constraints are unchanged. Skipped only where this machine
cannot run containers: no buildah, not root, or ``buildah from scratch`` failing.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess

import numpy as np
import pytest
import rasterio

from tests.jobs.test_run import DEMO, numpy_ndvi_median
from tests.shared_location import CHECKOUT

SCRIPT = CHECKOUT / "scripts" / "build-image.sh"
STORE = CHECKOUT / "build" / "image"
BUILD_TIMEOUT_S = 3600


def _container_refusal() -> str | None:
    """Why containers cannot run here (one line), or None."""
    if shutil.which("buildah") is None:
        return "buildah is not installed"
    if os.geteuid() != 0:
        return "buildah with chroot isolation needs root"
    store = ["buildah", "--root", str(STORE / "storage"), "--runroot", str(STORE / "run"),
             "--storage-driver", "vfs"]
    probe = subprocess.run([*store, "from", "scratch"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"buildah from scratch fails: {probe.stderr.strip().splitlines()[-1:]}"
    subprocess.run([*store, "rm", probe.stdout.strip()], capture_output=True)
    return None


pytestmark = pytest.mark.skipif(bool(_refusal := _container_refusal()), reason=_refusal or "")


@pytest.fixture(scope="module")
def image() -> None:
    """Build the image (or reuse the cached build)."""
    env = {**os.environ, "PATH": f"{CHECKOUT / '.venv' / 'bin'}:{os.environ['PATH']}"}
    done = subprocess.run(["bash", str(SCRIPT), "build"], cwd=CHECKOUT, env=env, capture_output=True,
                          text=True, timeout=BUILD_TIMEOUT_S)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def test_the_driver_in_the_image_runs_the_sample_job(image, sample_small, tmp_path):
    # pytest's folders are private to root; the image's uid 185 reads the sample (mounted as is)
    sample = shutil.copytree(os.path.dirname(sample_small), tmp_path / "sample")
    subprocess.run(["chmod", "-R", "a+rX", str(sample)], check=True)
    out = tmp_path / "results"
    done = subprocess.run(["bash", str(SCRIPT), "run", str(sample), str(DEMO), str(out)], cwd=CHECKOUT,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = out / "results"
    assert {"result.tif", "collection.json", "job_metadata.json"} <= {p.name for p in out.iterdir()}
    collection = json.loads((out / "collection.json").read_text())
    assert collection["type"] == "Collection"
    with rasterio.open(out / "result.tif") as ds:
        assert ds.profile["driver"] == "GTiff" and ds.overviews(1) is not None
        got = ds.read(1)
    expect = numpy_ndvi_median(str(sample / "layercatalog.json"))
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expect))
    valid = ~np.isnan(expect)
    assert np.abs(got[valid] - expect[valid]).max() <= 1e-5
