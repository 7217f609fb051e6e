#!/bin/bash
# `make image`: build the sparkeo image with buildah where registry images cannot be pulled, then run its
# driver on the sample job.
#
#   scripts/build-image.sh build                  base + image (both reused while their inputs are unchanged)
#   scripts/build-image.sh run SAMPLE GRAPH OUT   the entrypoint's `driver` (spark-submit, local[2]) on
#                                                 SAMPLE/layercatalog.json; results in OUT/results
#   scripts/build-image.sh                        both, on a fresh sample, and checks the COG + collection.json
#
# The base is a minimal Debian bookworm made by debootstrap (rootfs cached under build/image/rootfs) with a
# Python venv first on PATH, standing in for python:3.11-slim-bookworm; the image is docker/Dockerfile
# itself built FROM it (--build-arg BASE). The JMX exporter jar comes from maven, unreachable here:
# JMX_EXPORTER=0 (the default of this script) drops the Dockerfile's marked jmx-exporter block.
# Everything buildah stores (vfs driver, chroot isolation: no daemon, no user namespaces) is under
# build/image/, so `make clean` removes it. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT="${IMAGE_DIR:-$PWD/build/image}"
TAG="${IMAGE_TAG:-localhost/sparkeo:dev}"
BASE_TAG="localhost/sparkeo-base:bookworm"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
JMX_EXPORTER="${JMX_EXPORTER:-0}"
BUILDAH=(buildah --root "$OUT/storage" --runroot "$OUT/run" --storage-driver vfs)
mkdir -p "$OUT"

have_image() { "${BUILDAH[@]}" inspect --type image "$1" >/dev/null 2>&1; }

# The debootstrap rootfs as an image: python3 + a venv at /opt/python first on PATH, so the Dockerfile's
# `pip install` and `python -c` mean what they mean on the python:*-slim base.
build_base() {
  have_image "$BASE_TAG" && return 0
  if [ ! -d "$OUT/rootfs" ]; then
    rm -rf "$OUT/rootfs.tmp"
    debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
      bookworm "$OUT/rootfs.tmp" "$MIRROR"
    mv "$OUT/rootfs.tmp" "$OUT/rootfs"     # only a complete rootfs is reused
  fi
  local ctr mnt
  ctr="$("${BUILDAH[@]}" from scratch)"
  mnt="$("${BUILDAH[@]}" mount "$ctr")"
  cp -a "$OUT/rootfs/." "$mnt/"
  "${BUILDAH[@]}" unmount "$ctr" >/dev/null
  "${BUILDAH[@]}" run --isolation chroot "$ctr" -- python3 -m venv /opt/python
  "${BUILDAH[@]}" config --env PATH=/opt/python/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --cmd /bin/bash "$ctr"
  "${BUILDAH[@]}" commit --rm "$ctr" "$BASE_TAG"
}

# What the image is made of: a rebuild is needed when this changes.
image_inputs_digest() {
  { echo "JMX_EXPORTER=$JMX_EXPORTER"
    git ls-files -co --exclude-standard docker setup.cfg pyproject.toml constraints.txt README.md \
      sparkeo layercatalog jobs sparkapps tracker | LC_ALL=C sort | xargs sha256sum
  } | sha256sum | cut -d' ' -f1
}

# The host's pip configuration (index, find-links, cert) for the build's `pip install`, as a pip.conf
# mounted at /etc/pip.conf, plus -v mounts of the local paths it names; none when pip has none.
pip_mounts() {
  local conf="$OUT/pip.conf" key value path
  echo "[global]" > "$conf"
  python3 -m pip config list 2>/dev/null | while IFS= read -r line; do
    key="${line%%=*}"; key="${key#*.}"; value="${line#*=}"; value="${value#\'}"; value="${value%\'}"
    [ "$key" = constraint ] && continue      # the image pins with constraints.txt only
    grep -q "^$key = " "$conf" || echo "$key = $value" >> "$conf"   # pip rejects a repeated key
  done
  echo "--volume=$conf:/etc/pip.conf:ro"
  for path in $(sed -n 's/^[a-z-]* = //p' "$conf"); do
    path="${path#file://}"; path="${path%/}"; path="${path%/simple}"   # an index's files sit beside simple/
    case "$path" in /*) [ -e "$path" ] && echo "--volume=$path:$path:ro" ;; esac
  done | sort -u
}

build_image() {
  build_base
  local digest stamp="$OUT/image.digest" file="$OUT/Containerfile"
  digest="$(image_inputs_digest)"
  if have_image "$TAG" && [ "$(cat "$stamp" 2>/dev/null)" = "$digest" ]; then
    echo "$TAG is up to date"
    return 0
  fi
  if [ "$JMX_EXPORTER" = 0 ]; then
    sed '/^# >>> jmx-exporter/,/^# <<< jmx-exporter/d' docker/Dockerfile > "$file"
  else
    cp docker/Dockerfile "$file"
  fi
  local mounts
  mapfile -t mounts < <(pip_mounts)
  # no --layers: with vfs every cached layer is a full copy of the rootfs (GBs each); one image, the old pruned
  "${BUILDAH[@]}" bud --isolation chroot --layers=false --pull=never --build-arg "BASE=$BASE_TAG" \
    "${mounts[@]}" -f "$file" -t "$TAG" .
  "${BUILDAH[@]}" rmi --prune >/dev/null 2>&1 || true
  echo "$digest" > "$stamp"
}

# The entrypoint's driver mode, as the operator runs it but with master local[2]; the sample is mounted at
# its own path (its catalog may name absolute paths), the results folder is written by the image's uid.
# Results are staged beside the output folder, so OUT (writable by all) receives them in OUT/results.
# A chroot container's hostname has no /etc/hosts entry (a pod's has): Spark is told to use localhost.
run_driver() {
  local sample graph out ctr rc=0
  sample="$(realpath "$1")"; graph="$(realpath "$2")"; out="$(realpath -m "$3")"
  mkdir -p "$out" && chmod 0777 "$out"
  ctr="$("${BUILDAH[@]}" from --pull=never "$TAG")"
  # `|| rc=$?` keeps set -e from leaving before the working container is removed on a failed run
  "${BUILDAH[@]}" run --isolation chroot --user 185:0 --workingdir /opt/spark/work-dir \
    --env SPARK_DRIVER_BIND_ADDRESS=127.0.0.1 --env SPARK_LOCAL_IP=127.0.0.1 --env SPARK_LOCAL_HOSTNAME=localhost \
    --volume "$sample:$sample:ro" --volume "$graph:/opt/job/graph.json:ro" --volume "$out:/opt/job/out" \
    "$ctr" -- /opt/entrypoint.sh driver --master 'local[2]' /opt/sparkeo/jobs/main.py \
      --graph /opt/job/graph.json --catalog "$sample/layercatalog.json" \
      --output /opt/job/out/results --job-id image-check || rc=$?
  "${BUILDAH[@]}" rm "$ctr" >/dev/null
  return "$rc"
}

case "${1:-all}" in
  build) build_image ;;
  run) shift; run_driver "$@" ;;
  all)
    build_image
    rm -rf "$OUT/sample" "$OUT/job"
    sparkeo sample-data "$OUT/sample" --size 128 --dates 3 >/dev/null
    run_driver "$OUT/sample" examples/ndvi_median.json "$OUT/job"
    ls "$OUT"/job/results/*.tif "$OUT/job/results/collection.json"
    ;;
  *) echo "usage: $0 [build | run SAMPLE GRAPH OUT | all]" >&2; exit 2 ;;
esac
