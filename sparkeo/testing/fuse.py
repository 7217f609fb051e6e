"""A real FUSE mount of an S3 bucket: Debian ``s3fs`` in the foreground, so its process is ours to
stop. This is how executors read the archive on a platform with a node-level mount (``/eodata``).
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from sparkeo.testing.s3 import ACCESS_KEY, REGION, SECRET_KEY, S3Bucket
from sparkeo.testing.services import ServiceStartError, start_service, stop_process


def _require_fuse() -> None:
    if not os.path.exists("/dev/fuse"):
        raise ServiceStartError("/dev/fuse does not exist: FUSE mounts need it (run as root on a host with FUSE)")
    if shutil.which("s3fs") is None:
        raise ServiceStartError("s3fs is not installed: run scripts/install-debian.sh s3fs fuse3")


def _unmount(mountpoint: Path) -> None:
    for cmd in (["fusermount", "-u", str(mountpoint)], ["umount", str(mountpoint)]):
        if shutil.which(cmd[0]) and subprocess.run(cmd, capture_output=True).returncode == 0:
            return
    subprocess.run(["umount", "-l", str(mountpoint)], capture_output=True)


def mount_bucket(bucket: S3Bucket, mountpoint: Path, workdir: Path, timeout: float = 20.0) -> subprocess.Popen:
    """Mount ``bucket`` at ``mountpoint`` with s3fs (foreground process, so we own its pid).

    Raises ``ServiceStartError`` when FUSE or s3fs is missing or the mount does not appear in time."""
    _require_fuse()
    passwd = workdir / "s3fs.passwd"
    passwd.write_text(f"{ACCESS_KEY}:{SECRET_KEY}\n")
    passwd.chmod(0o600)  # s3fs refuses a passwd file others can read
    mountpoint.mkdir(parents=True, exist_ok=True)
    cmd = ["s3fs", bucket.name, str(mountpoint), "-f",
           "-o", f"url={bucket.server.endpoint}", "-o", "use_path_request_style",
           "-o", f"passwd_file={passwd}", "-o", f"endpoint={REGION}", "-o", "dbglevel=warn"]
    return start_service(cmd, workdir / "s3fs.log", f"s3fs mounting {bucket.name} at {mountpoint}",
                         lambda: os.path.ismount(mountpoint), timeout, interval=0.05)


def unmount_bucket(mountpoint: Path, proc: subprocess.Popen) -> None:
    """Unmount and wait for the s3fs process to end."""
    _unmount(mountpoint)
    stop_process(proc)
