"""The labs' images, built here (there is no registry): a minimal Debian made by `debootstrap`,
kept as a tarball in a cache folder so a machine makes it once, then a Dockerfile over it.

`python` is the whole root filesystem (Debian's minimal Python 3); `shell` is the same without
Python. Both run as uid 1000 in /work.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

IMAGE_VERSION = "1"
SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
ROOTFS = f"rootfs-{SUITE}-python3.tar"
_WITHOUT_PYTHON = ("usr/lib/python3", "usr/bin/python3", "usr/bin/pydoc3", "usr/share/python3")

DOCKERFILE = b"""FROM scratch
ADD rootfs.tar /
ENV HOME=/work PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 PYTHONDONTWRITEBYTECODE=1
WORKDIR /work
USER 1000:1000
CMD ["sleep", "infinity"]
"""


class ImageBuildError(RuntimeError):
    """The root filesystem could not be made (debootstrap missing or failed)."""


def image_name(environment: str) -> str:
    return f"coursewright-lab-{environment}:{IMAGE_VERSION}"


def rootfs_tarball(cache_dir: Path) -> Path:
    """The cached root filesystem tarball, made with debootstrap on first use."""
    target = cache_dir / ROOTFS
    if target.exists():
        return target
    debootstrap = shutil.which("debootstrap")
    if debootstrap is None:
        raise ImageBuildError("debootstrap is not installed (apt-get install debootstrap)")
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir) as work:
        root = Path(work) / "root"
        done = subprocess.run(
            [debootstrap, "--variant=minbase", "--include=python3-minimal", SUITE, str(root), MIRROR],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise ImageBuildError(f"debootstrap failed: {done.stderr[-2000:] or done.stdout[-2000:]}")
        partial = Path(work) / ROOTFS
        with tarfile.open(partial, "w") as tar:
            tar.add(root, arcname=".")
        partial.replace(target)  # atomic: a killed build leaves no half tarball behind
    return target


def _without_python(source: Path, target: Path) -> None:
    with tarfile.open(source) as src, tarfile.open(target, "w") as out:
        for member in src:
            name = member.name.removeprefix("./")
            if name.startswith(_WITHOUT_PYTHON):
                continue
            out.addfile(member, src.extractfile(member) if member.isfile() else None)


def build_context(environment: str, cache_dir: Path) -> Path:
    """A build context (tar: the Dockerfile and the root filesystem) for one environment."""
    rootfs = rootfs_tarball(cache_dir)
    handle, name = tempfile.mkstemp(prefix=f"lab-{environment}-", suffix=".tar", dir=cache_dir)
    context = Path(name)
    with open(handle, "wb") as raw, tarfile.open(fileobj=raw, mode="w") as tar:
        dockerfile = tarfile.TarInfo("Dockerfile")
        dockerfile.size = len(DOCKERFILE)
        tar.addfile(dockerfile, io.BytesIO(DOCKERFILE))
        if environment == "python":
            tar.add(rootfs, arcname="rootfs.tar")
        else:
            with tempfile.TemporaryDirectory(dir=cache_dir) as work:
                slim = Path(work) / "rootfs.tar"
                _without_python(rootfs, slim)
                tar.add(slim, arcname="rootfs.tar")
    return context
