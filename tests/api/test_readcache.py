"""PayloadCache: rendered JSON reused while the feed reports no change, recomputed after any; its key."""

import pytest
from rest_framework.request import Request

from orchestrator.changefeed import FeedPool
from api.readcache import PayloadCache
from api.serializers.plans import PlanListQuerySerializer
from api.views.reads import read_key, validated_query


@pytest.fixture
def pool():
    pool = FeedPool()
    yield pool
    pool.close()


@pytest.fixture
def cache(pool):
    return PayloadCache(pool=pool, maxsize=2)


class Counter:
    def __init__(self, data=None):
        self.calls = 0
        self.data = data if data is not None else {"value": 1}

    def __call__(self):
        self.calls += 1
        return self.data, 1700000000.5


def test_computes_once_while_nothing_changes(cache, repo):
    repo.plan("alpha")
    compute = Counter()

    first = cache.get(layout=repo.layout, key=("k",), compute=compute)
    second = cache.get(layout=repo.layout, key=("k",), compute=compute)

    assert compute.calls == 1 and second is first
    assert first.body == b'{"value":1}'
    assert first.etag.startswith('"') and first.last_modified == 1700000000.5


def test_recomputes_after_a_change(cache, repo):
    repo.plan("alpha")
    compute = Counter()
    cache.get(layout=repo.layout, key=("k",), compute=compute)

    repo.plan("alpha", title="Changed")
    cache.get(layout=repo.layout, key=("k",), compute=compute)

    assert compute.calls == 2


def test_a_change_during_the_computation_is_not_lost(cache, repo):
    repo.plan("alpha")

    def compute_while_someone_writes():
        data = {"title": "old"}
        repo.plan("alpha", title="New")
        return data, None
    cache.get(layout=repo.layout, key=("k",), compute=compute_while_someone_writes)
    compute = Counter()

    cache.get(layout=repo.layout, key=("k",), compute=compute)

    assert compute.calls == 1


def test_etag_is_the_same_in_every_process(repo, pool):
    repo.plan("alpha")
    other_pool = FeedPool()
    try:
        one = PayloadCache(pool=pool).get(layout=repo.layout, key=("k",), compute=Counter())
        other = PayloadCache(pool=other_pool).get(layout=repo.layout, key=("k",), compute=Counter())
    finally:
        other_pool.close()

    assert one.etag == other.etag


def test_without_a_feed_nothing_is_reused(repo):
    cache = PayloadCache(pool=FeedPool(inotify=lambda: None))
    compute = Counter()

    cache.get(layout=repo.layout, key=("k",), compute=compute)
    cache.get(layout=repo.layout, key=("k",), compute=compute)

    assert compute.calls == 2


def test_failures_are_not_cached(cache, repo):
    def failing():
        raise LookupError("no such plan")

    for _ in range(2):
        with pytest.raises(LookupError):
            cache.get(layout=repo.layout, key=("k",), compute=failing)


def test_the_cache_is_bounded(cache, repo):
    computes = {key: Counter() for key in "abc"}
    for key in "abca":
        cache.get(layout=repo.layout, key=(key,), compute=computes[key])

    assert computes["a"].calls == 2  # evicted by c, recomputed
    assert computes["b"].calls == computes["c"].calls == 1


def test_the_key_is_the_path_and_the_validated_query(rf):
    """Spellings the serializer takes alike share a payload; another resource or filter does not."""
    def key(url):
        request = Request(rf.get(url))
        return read_key(request, validated_query(PlanListQuerySerializer, request))

    assert key("/api/plans?archived=1") == key("/api/plans?archived=true&format=json&unknown=x")
    assert key("/api/plans?archived=1") != key("/api/plans?archived=0")
    assert key("/api/plans") != key("/api/plans/alpha")
    assert read_key(Request(rf.get("/api/plans/alpha?x=1")), None) == read_key(Request(rf.get("/api/plans/alpha")), None)
