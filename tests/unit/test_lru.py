"""The bounded memo every in-process cache uses."""

from infra.lru import Lru


def test_the_least_recently_stored_key_goes_first() -> None:
    memo: Lru[str, int] = Lru(2)
    memo.put("a", 1)
    memo.put("b", 2)
    memo.put("a", 3)  # stored again: now the newest
    memo.put("c", 4)
    assert dict(memo) == {"a": 3, "c": 4}
