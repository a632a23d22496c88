"""Delivery to a real local receiver: signed, retried with backoff, logged, given up, switched off, resumed."""

import json
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from notifications.dispatcher import Dispatcher
from notifications.models import Attempt, Delivery, Webhook
from notifications.services import deliveries_enqueue, retry_delay, webhook_create
from notifications.signing import DELIVERY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verify

from .helpers import INSTANCE, task_failed, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(60)]


@pytest.fixture
def dispatchers(repo):
    started = []

    def start():
        dispatcher = Dispatcher(registry_path=repo.layout.registry_path)
        dispatcher.start()
        started.append(dispatcher)
        return dispatcher

    yield start
    for dispatcher in started:
        dispatcher.stop()


def settled(*dispatchers):
    wait_until(lambda: all(d.idle() for d in dispatchers)
               and not Delivery.objects.filter(state=Delivery.State.PENDING, webhook__enabled=True).exists(),
               message="deliveries settled")


def test_a_failed_task_is_posted_with_a_signature_the_receiver_verifies(repo, receiver, dispatchers):
    repo.plan("alpha")
    repo.registry([repo.instance(id=INSTANCE, plan_path="docs/plans/alpha.md")])
    hook = receiver()
    webhook = webhook_create(url=hook.url, kinds=["task_failed"])
    dispatcher = dispatchers()
    event = task_failed()
    dispatcher.submit(event)

    [request] = hook.wait_for(1)
    headers = {k.lower(): v for k, v in request.headers.items()}
    assert verify(webhook.secret, timestamp=headers[TIMESTAMP_HEADER.lower()],
                  signature=headers[SIGNATURE_HEADER.lower()], body=request.body, now=time.time())
    assert not verify("another secret", timestamp=headers[TIMESTAMP_HEADER.lower()],
                      signature=headers[SIGNATURE_HEADER.lower()], body=request.body, now=time.time())
    assert not verify(webhook.secret, timestamp=headers[TIMESTAMP_HEADER.lower()],
                      signature=headers[SIGNATURE_HEADER.lower()], body=request.body, now=time.time() + 3600)
    body = json.loads(request.body)
    assert {k: body[k] for k in event} == event
    assert body["kind"] == "task_failed" and body["plan"] == "alpha"
    assert body["text"] == f"Task 2.1 \u201cAdd the health route\u201d failed in alpha ({INSTANCE})."
    assert headers["content-type"] == "application/json"
    assert headers["host"] == hook.url.split("/")[2]

    settled(dispatcher)
    delivery = Delivery.objects.get()
    assert str(delivery.uuid) == headers[DELIVERY_HEADER.lower()]
    assert delivery.state == Delivery.State.DELIVERED and delivery.attempts == 1
    [attempt] = delivery.attempt_log.all()
    assert attempt.status_code == 200 and attempt.latency_ms > 0 and attempt.error == ""


def test_a_receiver_answering_500_twice_then_200_gets_three_attempts(receiver, dispatchers):
    hook = receiver([500, 500, 200])
    webhook_create(url=hook.url, kinds=["task_failed"])
    dispatcher = dispatchers()
    dispatcher.submit(task_failed())

    requests = hook.wait_for(3)
    settled(dispatcher)
    assert len(hook.requests) == 3
    # One delivery: every retry carries the same id and body, each freshly timestamped and signed.
    assert len({r.headers[DELIVERY_HEADER] for r in requests}) == 1
    assert len({r.body for r in requests}) == 1
    delivery = Delivery.objects.get()
    assert (delivery.state, delivery.attempts) == (Delivery.State.DELIVERED, 3)
    assert [(a.number, a.status_code, a.error) for a in delivery.attempt_log.all()] == [
        (1, 500, "HTTP 500"), (2, 500, "HTTP 500"), (3, 200, "")]
    assert Webhook.objects.get().failing_streak == 0


def test_backoff_doubles_with_jitter_up_to_its_ceiling():
    low = [retry_delay(n, base_s=1.0, max_s=8.0, rng=lambda: 0.0) for n in range(1, 7)]
    high = [retry_delay(n, base_s=1.0, max_s=8.0, rng=lambda: 1.0) for n in range(1, 7)]
    assert high == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert low == [h / 2 for h in high]


def test_retries_stop_when_the_retry_window_is_over(settings, receiver, dispatchers):
    settings.ORCHESTRATOR = {**settings.ORCHESTRATOR, "WEBHOOK_RETRY_FOR_S": 1.5, "WEBHOOK_DISABLE_AFTER": 5}
    hook = receiver([503])
    webhook_create(url=hook.url, kinds=["task_failed"])
    dispatcher = dispatchers()
    dispatcher.submit(task_failed())

    wait_until(lambda: Delivery.objects.filter(state=Delivery.State.FAILED).exists(), message="given up")
    settled(dispatcher)
    delivery = Delivery.objects.get()
    assert delivery.attempts == len(hook.requests) >= 2
    assert delivery.last_error == "HTTP 503"
    assert delivery.finished_at - delivery.created_at < timedelta(seconds=0.3 + 2.0)


def test_a_4xx_is_not_retried_and_a_webhook_that_keeps_failing_is_switched_off(receiver, dispatchers):
    hook = receiver([404])
    webhook = webhook_create(url=hook.url, kinds=["task_failed"])
    dispatcher = dispatchers()
    for event_id in (1, 2):  # WEBHOOK_DISABLE_AFTER is 2 in these tests
        dispatcher.submit(task_failed(event_id))
    wait_until(lambda: not Webhook.objects.get().enabled, message="webhook switched off")
    settled(dispatcher)

    webhook.refresh_from_db()
    assert "2 deliveries in a row failed" in webhook.disabled_reason and "HTTP 404" in webhook.disabled_reason
    assert [d.attempts for d in Delivery.objects.all()] == [1, 1]
    dispatcher.submit(task_failed(3))
    settled(dispatcher)
    assert Delivery.objects.count() == 2 and len(hook.requests) == 2


def test_a_target_that_turned_private_is_refused_at_delivery(receiver, dispatchers, monkeypatch):
    hook = receiver()
    webhook_create(url=hook.url, kinds=["task_failed"])  # accepted while private targets were allowed
    monkeypatch.delenv("ORCHESTRATOR_WEBHOOK_ALLOW_PRIVATE")
    dispatcher = dispatchers()
    dispatcher.submit(task_failed())
    wait_until(lambda: Delivery.objects.filter(state=Delivery.State.FAILED).exists(), message="refused")
    settled(dispatcher)
    delivery = Delivery.objects.get()
    assert delivery.attempts == 1 and "loopback" in delivery.last_error
    assert hook.requests == []


def test_pending_deliveries_survive_a_restart(receiver, dispatchers):
    """Filed by one run (which then died, one delivery leased mid-send), sent by the next."""
    hook = receiver()
    webhook_create(url=hook.url, kinds=["task_failed"])
    now = timezone.now()
    deliveries_enqueue(event=task_failed(1), plan=None, now=now)
    deliveries_enqueue(event=task_failed(2), plan=None, now=now)
    Delivery.objects.filter(event_id=2).update(lease_until=now - timedelta(seconds=1), attempts=1)

    dispatcher = dispatchers()
    hook.wait_for(2)
    settled(dispatcher)
    assert sorted(json.loads(r.body)["id"] for r in hook.requests) == [1, 2]
    assert set(Delivery.objects.values_list("state", flat=True)) == {Delivery.State.DELIVERED}
    assert Attempt.objects.count() == 2


def test_two_dispatchers_that_both_see_an_event_send_it_once(receiver, dispatchers):
    hook = receiver()
    webhook_create(url=hook.url, kinds=["task_failed", "task_changed"])
    first, second = dispatchers(), dispatchers()
    events = [task_failed(n, task_id=f"1.{n}") for n in range(1, 21)]
    for event in events:
        first.submit(event)
        second.submit(event)

    hook.wait_for(len(events))
    settled(first, second)
    assert sorted(json.loads(r.body)["id"] for r in hook.requests) == list(range(1, 21))
    assert Delivery.objects.count() == 20 and Attempt.objects.count() == 20


def test_events_no_webhook_wants_file_nothing(receiver, dispatchers):
    hook = receiver()
    webhook_create(url=hook.url, kinds=["orchestrator_crashed"], plan="beta")
    dispatcher = dispatchers()
    dispatcher.submit(task_failed())
    dispatcher.submit({**task_failed(2), "type": "tool_started", "data": {}})
    crashed = {**task_failed(3), "type": "orchestrator_state", "data": {"state": "crashed", "reason": "gone"}}
    dispatcher.submit(crashed)  # wrong plan: the instance is not registered for beta
    settled(dispatcher)
    assert Delivery.objects.count() == 0 and hook.requests == []
