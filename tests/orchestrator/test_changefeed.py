"""ChangeFeed: one non-blocking inotify read tells whether anything under the plan directories changed."""

import errno
import os

import pytest

from orchestrator.changefeed import ChangeFeed, FeedPool, Inotify, layout_trees
from orchestrator.layout import RepoLayout


@pytest.fixture
def feed(repo):
    repo.status("alpha")
    repo.finding("alpha", "1.1")
    repo.plan("old", archived=True)
    repo.registry([])
    feed = ChangeFeed(layout_trees(repo.layout))
    assert feed.available
    yield feed
    feed.close()


def changed(feed, action) -> bool:
    before = feed.generation()
    action()
    return feed.generation() != before


def test_reading_files_is_no_change(feed, repo):
    before = feed.generation()
    repo.layout.status_file("alpha", archived=False).read_bytes()
    os.listdir(repo.layout.plans_dir)

    assert feed.generation() == before


@pytest.mark.parametrize("action", [
    lambda repo: repo.plan("alpha", title="Edited in place"),
    lambda repo: repo.plan("new"),
    lambda repo: repo.plan("new-archived", archived=True),
    lambda repo: repo.registry([repo.instance()]),  # live reads (orchestrators, health) depend on it
    lambda repo: os.unlink(repo.layout.plan_file("alpha", archived=False)),
    lambda repo: repo.status("alpha", states={"1.1": "completed"}),
    lambda repo: repo.finding("alpha", "1.2"),
    lambda repo: repo.age(repo.layout.plan_file("old", archived=True), seconds=60),
    lambda repo: os.replace(repo.finding("alpha", "9.9", filename="tmp.md"),
                            repo.layout.status_file("alpha", archived=False)),
])
def test_every_kind_of_change_moves_the_generation(feed, repo, action):
    assert changed(feed, lambda: action(repo))


def test_directories_created_later_are_watched_too(feed, repo):
    assert changed(feed, lambda: repo.status("beta"))                 # creates plan-outputs/beta/
    assert changed(feed, lambda: repo.finding("beta", "1.1"))         # creates beta/findings/ and a file
    assert changed(feed, lambda: repo.finding("beta", "1.2"))         # a file in the new directory
    assert changed(feed, lambda: repo.finding("gamma", "1.1", archived=True))
    assert changed(feed, lambda: repo.finding("gamma", "1.2", archived=True))


def test_a_repository_without_docs_is_watched_from_its_root(tmp_path):
    feed = ChangeFeed(layout_trees(RepoLayout.at(tmp_path)))
    try:
        assert changed(feed, lambda: (tmp_path / "docs" / "plans").mkdir(parents=True))
        assert changed(feed, lambda: (tmp_path / "docs" / "plans" / "a.md").write_text("# A\n"))
        (tmp_path / "src").mkdir()
        assert not changed(feed, lambda: (tmp_path / "src" / "code.py").write_text("x = 1\n"))
    finally:
        feed.close()


def test_files_outside_the_plan_directories_are_no_change(feed, repo):
    (repo.root / "src").mkdir()

    assert not changed(feed, lambda: (repo.root / "src" / "main.py").write_text("print()\n"))
    assert not changed(feed, lambda: (repo.root / "README.md").write_text("# Repo\n"))


class RunsOutOfWatches(Inotify):
    """The real inotify, until the kernel's watch limit (fs.inotify.max_user_watches) is reached."""

    exhausted = False

    def add_watch(self, fd, path, mask):
        if self.exhausted:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return super().add_watch(fd, path, mask)


def test_closed_or_unavailable_feed_reports_none(repo):
    feed = ChangeFeed(layout_trees(repo.layout))
    feed.close()
    assert feed.generation() is None

    unavailable = ChangeFeed(layout_trees(repo.layout), inotify=lambda: None)  # no inotify on this system
    assert not unavailable.available and unavailable.generation() is None


def test_running_out_of_watches_stops_reporting_rather_than_missing_changes(repo):
    inotify = RunsOutOfWatches.load()
    feed = ChangeFeed(layout_trees(repo.layout), inotify=lambda: inotify)
    try:
        assert feed.generation() is not None
        inotify.exhausted = True

        repo.status("beta")  # a new directory: the feed must add a watch, and cannot

        assert feed.generation() is None
    finally:
        feed.close()


def test_a_pool_without_inotify_hands_out_unavailable_feeds(repo):
    pool = FeedPool(inotify=lambda: None)
    assert pool.feed(repo.layout).generation() is None
    pool.close()


def test_generations_are_never_reused_by_another_feed(repo):
    first = ChangeFeed(layout_trees(repo.layout))
    second = ChangeFeed(layout_trees(repo.layout))
    try:
        assert first.generation() != second.generation()
    finally:
        first.close()
        second.close()


def test_pool_keeps_one_feed_per_root_and_closes_evicted_ones(tmp_path):
    pool = FeedPool(maxsize=2)
    layouts = [RepoLayout.at(tmp_path / name) for name in ("a", "b", "c")]
    first = pool.feed(layouts[0])

    assert pool.feed(layouts[0]) is first
    pool.feed(layouts[1])
    pool.feed(layouts[2])

    assert first.generation() is None  # evicted and closed
    assert pool.feed(layouts[0]) is not first
    pool.close()
    assert all(pool.feed(layout).generation() is not None for layout in layouts[1:])  # new, open feeds
    pool.close()


def test_transcripts_growing_while_a_task_runs_keep_cached_reads(feed, repo):
    """Their endpoints are live reads: a line per agent step must not throw every cached read away."""
    task_dir = repo.layout.task_transcripts_dir("alpha", "1.1", archived=False)
    assert changed(feed, lambda: task_dir.mkdir(parents=True))  # a new directory is a rescan, once
    transcript = task_dir / "attempt-1.jsonl"
    transcript.write_text('{"seq": 1, "kind": "attempt"}\n')
    feed.generation()

    def grow():
        with open(transcript, "a") as f:
            f.write('{"seq": 2, "kind": "text", "text": "still working"}\n')
    assert not changed(feed, grow)
    assert not changed(feed, lambda: (task_dir / "attempt-2.jsonl").write_text("{}\n"))
    assert changed(feed, lambda: repo.finding("alpha", "1.2"))  # the rest is still watched
