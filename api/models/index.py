"""A database index of the plan files, so the admin can filter, search and page them; the files stay the truth."""

from django.db import models


class PlanState(models.TextChoices):
    NOT_STARTED = "not_started", "Not started"
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETE = "complete", "Complete"


class PlanRecord(models.Model):
    """One plan (docs/plans or docs/plans/archive) with its status summary, as of the last sync."""

    name = models.CharField(max_length=200)
    archived = models.BooleanField(default=False)
    title = models.CharField(max_length=500, blank=True)
    plan_path = models.CharField(max_length=500)
    has_status = models.BooleanField("status file", default=False)
    state = models.CharField(max_length=20, choices=PlanState.choices, default=PlanState.NOT_STARTED)
    total = models.PositiveIntegerField(default=0)
    pending = models.PositiveIntegerField(default=0)
    in_progress = models.PositiveIntegerField(default=0)
    completed = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    progress_percent = models.FloatField(default=0.0)
    current_phase = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(null=True, blank=True)
    last_updated_at = models.DateTimeField(null=True, blank=True)
    # Stat data (inode, mtime, size) of the plan, its status file and its findings: an
    # unchanged fingerprint lets a sync skip the plan without reading a byte.
    fingerprint = models.CharField(max_length=64)
    synced_at = models.DateTimeField()

    class Meta:
        ordering = ["archived", "name"]
        constraints = [models.UniqueConstraint(fields=["name", "archived"], name="unique_plan_record")]
        verbose_name = "plan"

    def __str__(self) -> str:
        return f"{self.name} (archived)" if self.archived else self.name


class PhaseRecord(models.Model):
    plan = models.ForeignKey(PlanRecord, on_delete=models.CASCADE, related_name="phases")
    position = models.PositiveIntegerField()
    title = models.CharField(max_length=500)
    total = models.PositiveIntegerField(default=0)
    pending = models.PositiveIntegerField(default=0)
    in_progress = models.PositiveIntegerField(default=0)
    completed = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    progress_percent = models.FloatField(default=0.0)

    class Meta:
        ordering = ["plan_id", "position"]
        verbose_name = "phase"

    def __str__(self) -> str:
        return self.title


class TaskRecord(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        IN_PROGRESS = "in_progress"
        COMPLETED = "completed"
        FAILED = "failed"
        SKIPPED = "skipped"

    plan = models.ForeignKey(PlanRecord, on_delete=models.CASCADE, related_name="tasks")
    position = models.PositiveIntegerField()
    task_id = models.CharField(max_length=20)
    # The phase title, not a foreign key: tasks and phases are rebuilt together, and a
    # plain column keeps that a pair of bulk inserts.
    phase = models.CharField(max_length=500, blank=True)
    description = models.TextField(blank=True)
    status = models.CharField(max_length=20, choices=Status.choices)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.FloatField(null=True, blank=True)
    retry_count = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    skip_reason = models.TextField(blank=True)
    notes = models.TextField(blank=True)

    class Meta:
        ordering = ["plan_id", "position"]
        verbose_name = "task"

    def __str__(self) -> str:
        return f"{self.task_id} {self.description[:60]}"


class FindingRecord(models.Model):
    plan = models.ForeignKey(PlanRecord, on_delete=models.CASCADE, related_name="findings")
    filename = models.CharField(max_length=255)
    task_id = models.CharField(max_length=20, blank=True)
    content = models.TextField(blank=True)
    size = models.PositiveIntegerField(default=0)
    modified_at = models.DateTimeField()

    class Meta:
        ordering = ["plan_id", "filename"]
        verbose_name = "finding"

    def __str__(self) -> str:
        return self.filename


class OrchestratorRecord(models.Model):
    """One entry of .claude/orchestrator-registry.json; alive and stale are judged when shown, not stored."""

    instance_id = models.CharField(max_length=128, unique=True)
    pid = models.IntegerField()
    plan_path = models.CharField(max_length=500)
    worktree_path = models.CharField(max_length=500, blank=True)
    started_at = models.CharField(max_length=40, blank=True)
    last_heartbeat = models.CharField(max_length=40, blank=True)
    status = models.CharField(max_length=20)
    socket_path = models.CharField(max_length=500, blank=True)
    port = models.IntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        verbose_name = "orchestrator instance"

    def __str__(self) -> str:
        return self.instance_id
