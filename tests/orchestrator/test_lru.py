"""BoundedLRU: the one bounded cache every cache of the project is built on."""

import threading

from orchestrator.lru import BoundedLRU


def test_the_least_recently_used_entry_goes_first_and_is_handed_to_on_evict():
    evicted = []
    cache = BoundedLRU(2, on_evict=evicted.append)
    cache.put("a", 1)
    cache.put("b", 2)
    cache.get("a")        # now b is the least recently used
    cache.put("c", 3)

    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (1, None, 3)
    assert evicted == [2] and len(cache) == 2


def test_get_or_create_creates_once():
    cache = BoundedLRU(4)
    made = []

    def create():
        made.append(object())
        return made[-1]

    assert cache.get_or_create("k", create) is cache.get_or_create("k", create) is made[0]
    assert len(made) == 1


def test_discard_leaves_an_entry_stored_meanwhile():
    cache = BoundedLRU(4)
    old, new = object(), object()
    cache.put("k", old)
    cache.put("k", new)

    cache.discard("k", old)
    assert cache.get("k") is new
    cache.discard("k", new)
    assert cache.get("k") is None


def test_discard_where_and_clear_do_not_count_as_use_or_eviction():
    evicted = []
    cache = BoundedLRU(3, on_evict=evicted.append)
    for key, value in [("a", 1), ("b", 2), ("c", 3)]:
        cache.put(key, value)

    cache.discard_where(lambda value: value == 2)
    cache.put("d", 4)
    cache.put("e", 5)  # a, the oldest, goes: scanning for discard_where did not make it recent

    assert cache.get("a") is None and evicted == [1]
    assert sorted(cache.clear()) == [3, 4, 5]
    assert len(cache) == 0 and evicted == [1]


def test_threads_sharing_a_cache_never_exceed_its_bound():
    cache = BoundedLRU(8)
    errors = []

    def hammer(offset):
        try:
            for i in range(2000):
                cache.put((offset, i % 20), i)
                cache.get((offset, (i + 7) % 20))
                cache.pop((offset, (i + 3) % 20))
        except Exception as error:  # pragma: no cover - what the test is looking for
            errors.append(error)

    threads = [threading.Thread(target=hammer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == [] and len(cache) <= 8
