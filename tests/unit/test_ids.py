"""domain.ids: time-ordered new ids."""

from __future__ import annotations

import os
import pickle
import threading
import time
import uuid

import msgspec

from domain import ids


def test_new_ids_are_version_7_with_the_creation_time() -> None:
    before = time.time_ns() // 1_000_000
    u = ids.new_id()
    after = time.time_ns() // 1_000_000
    assert u.version == 7
    assert u.variant == uuid.RFC_4122
    assert before <= u.int >> 80 <= after
    # A real UUID: equal to its parse, hashable like one, and round-trips every codec we use.
    assert uuid.UUID(str(u)) == u and hash(uuid.UUID(str(u))) == hash(u)
    assert pickle.loads(pickle.dumps(u)) == u
    assert msgspec.json.decode(msgspec.json.encode(u), type=uuid.UUID) == u


def test_new_ids_are_unique_and_ordered_by_millisecond() -> None:
    drawn = [ids.new_id() for _ in range(20_000)]
    assert len(set(drawn)) == len(drawn)
    stamps = [u.int >> 80 for u in drawn]
    assert stamps == sorted(stamps)


def test_threads_never_share_a_draw() -> None:
    out: list[list[uuid.UUID]] = [[] for _ in range(8)]

    def draw(i: int) -> None:
        out[i].extend(ids.new_id() for _ in range(5_000))

    threads = [threading.Thread(target=draw, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [u for part in out for u in part]
    assert len(set(every)) == len(every) == 40_000


def test_a_forked_child_does_not_repeat_its_parents_draws() -> None:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next draws, then leave at once
        os.close(read)
        os.write(write, b"".join(ids.new_id().bytes for _ in range(50)))
        os._exit(0)
    os.close(write)
    data = b""
    while chunk := os.read(read, 4096):
        data += chunk
    os.close(read)
    os.waitpid(pid, 0)
    child = {data[i : i + 16][6:] for i in range(0, len(data), 16)}  # the random part, time aside
    parent = {ids.new_id().bytes[6:] for _ in range(50)}
    assert len(child) == 50 and not child & parent
