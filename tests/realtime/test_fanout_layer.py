"""The in-memory layer sweeps for expired entries at most once a second, and still delivers to every member."""

from unittest import mock

from channels.layers import InMemoryChannelLayer

from realtime import compat
from realtime.compat import FanoutInMemoryChannelLayer


async def test_group_send_reaches_every_member():
    layer = FanoutInMemoryChannelLayer(capacity=10)
    channels = [await layer.new_channel() for _ in range(3)]
    for channel in channels:
        await layer.group_add("g", channel)
    await layer.group_send("g", {"type": "x", "n": 1})
    for channel in channels:
        assert (await layer.receive(channel))["n"] == 1


async def test_expiry_sweep_runs_at_most_once_per_interval():
    layer = FanoutInMemoryChannelLayer(capacity=10)
    channel = await layer.new_channel()
    await layer.group_add("g", channel)
    with mock.patch.object(InMemoryChannelLayer, "_clean_expired") as sweep:
        for _ in range(100):
            await layer.group_send("g", {"type": "x"})
            await layer.receive(channel)
    assert sweep.call_count == 1


async def test_expired_memberships_still_go(monkeypatch):
    layer = FanoutInMemoryChannelLayer(capacity=10, group_expiry=1)
    channel = await layer.new_channel()
    await layer.group_add("g", channel)
    layer.groups["g"][channel] -= 10
    monkeypatch.setattr(compat, "SWEEP_INTERVAL_S", 0)
    await layer.group_send("g", {"type": "x"})
    assert not layer.groups["g"]


async def test_a_full_channel_loses_the_message_not_the_others():
    layer = FanoutInMemoryChannelLayer(capacity=1)
    full, free = await layer.new_channel(), await layer.new_channel()
    for channel in (full, free):
        await layer.group_add("g", channel)
    await layer.send(full, {"type": "x", "n": 0})
    await layer.group_send("g", {"type": "x", "n": 1})
    assert (await layer.receive(free))["n"] == 1
    assert (await layer.receive(full))["n"] == 0


async def test_the_sender_may_reuse_its_dict():
    layer = FanoutInMemoryChannelLayer(capacity=10)
    channel = await layer.new_channel()
    await layer.group_add("g", channel)
    message = {"type": "x", "data": {"n": 1}}
    await layer.group_send("g", message)
    message["data"]["n"] = 2
    assert (await layer.receive(channel))["data"]["n"] == 1
