"""Admin pages, all read-only: a trail anyone can edit proves nothing, and plans change only through the control API."""

from django.contrib import admin, messages
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from orchestrator.errors import InvalidName, OrchestratorError
from orchestrator.registry import Instance, is_alive, is_stale

from common.conf import orchestrator_settings
from .indexing import plan_index_sync
from .models import AuditEntry, FindingRecord, OrchestratorRecord, PhaseRecord, PlanRecord, TaskRecord
from common.permissions import may_view_audit
from .rendering import render_inline_markdown, render_markdown


# A handful of models, all linked from the index: the sidebar would take a fifth of a 1440 px screen
# from the plan list, whose columns then no longer fit.
admin.site.enable_nav_sidebar = False


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = (
        "created_at", "username", "action", "target_type", "target", "task_id", "accepted", "status_code",
        "remote_addr",
    )
    list_filter = ("action", "accepted", "status_code", "target_type")
    search_fields = ("username", "target", "task_id")
    date_hierarchy = "created_at"

    def has_view_permission(self, request, obj=None):
        return may_view_audit(request.user)

    def has_module_permission(self, request):
        return may_view_audit(request.user)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# Status -> label, the dashboard's words; api/static/api/admin-index.css colours each as .status-<status>.
STATUS_LABELS = {"completed": "completed", "in_progress": "in progress", "failed": "failed", "skipped": "skipped",
                 "pending": "pending"}


def _progress_bar(percent: float):
    return format_html('<span class="progress-cell"><progress value="{}" max="100"></progress> {}%</span>',
                       percent, percent)


def _counts(record):
    """"12 completed · 1 failed · 30 pending": only the statuses that occur, in a fixed order."""
    parts = ((status, count, label) for status, label in STATUS_LABELS.items() if (count := getattr(record, status)))
    return format_html_join(" · ", '<span class="status-{}">{} {}</span>', parts) or "no tasks"


def _sync_index(request) -> None:
    """Refresh the index before showing it, so a page is as current as the files it lists.

    A sync with nothing changed costs a few hundred os.stat calls and two queries, so doing it
    per page beats a watcher thread in every server worker: no lag, no inotify limits, no
    threads racing each other, and nothing at all when nobody looks at the admin.
    """
    try:
        result = plan_index_sync(layout=orchestrator_settings().layout)
    except (OSError, OrchestratorError) as exc:
        messages.error(request, f"The plan index could not be refreshed from the files: {exc}")
        return
    for error in result.errors:
        messages.warning(request, f"Not re-indexed (unreadable): {error}")


class ReadOnlyIndexMixin:
    """Any staff member may browse the index; nobody may add, change or delete through it."""

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_staff

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_staff

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class SyncedIndexAdmin(ReadOnlyIndexMixin, admin.ModelAdmin):
    actions = None

    def changelist_view(self, request, extra_context=None):
        _sync_index(request)
        return super().changelist_view(request, extra_context)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if request.method == "GET":
            _sync_index(request)
        return super().changeform_view(request, object_id, form_url, extra_context)


class HasFailuresFilter(admin.SimpleListFilter):
    title = "failures"
    parameter_name = "has_failures"

    def lookups(self, request, model_admin):
        return (("yes", "Has failed tasks"), ("no", "No failed tasks"))

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(failed__gt=0)
        if self.value() == "no":
            return queryset.filter(failed=0)
        return queryset


class _IndexInline(ReadOnlyIndexMixin, admin.TabularInline):
    extra = 0
    can_delete = False


class PhaseInline(_IndexInline):
    model = PhaseRecord
    fields = readonly_fields = ("title", "progress", "task_counts")
    verbose_name_plural = "phases"

    @admin.display(description="Progress")
    def progress(self, obj):
        return _progress_bar(obj.progress_percent)

    @admin.display(description="Tasks")
    def task_counts(self, obj):
        return format_html('<span class="task-counts">{}</span>', _counts(obj))


class TaskInline(_IndexInline):
    model = TaskRecord
    fields = readonly_fields = (
        "task_id", "task_description", "status_label", "started_at", "completed_at", "duration",
        "retry_count", "problem",
    )

    @admin.display(description="Description")
    def task_description(self, obj):
        return render_inline_markdown(obj.description)

    @admin.display(description="Status")
    def status_label(self, obj):
        return format_html('<strong class="status-{}">{}</strong>', obj.status, STATUS_LABELS[obj.status])

    @admin.display(description="Duration")
    def duration(self, obj):
        return "" if obj.duration_ms is None else f"{obj.duration_ms / 1000:.1f} s"

    @admin.display(description="Error / skip reason")
    def problem(self, obj):
        if obj.error:
            return format_html('<span class="task-error">{}</span>', obj.error)
        return f"skipped: {obj.skip_reason}" if obj.skip_reason else ""


class FindingInline(ReadOnlyIndexMixin, admin.StackedInline):
    model = FindingRecord
    extra = 0
    can_delete = False
    fields = (("task_id", "modified_at"), "rendered")
    readonly_fields = ("task_id", "modified_at", "rendered")

    @admin.display(description="Finding")
    def rendered(self, obj):
        return format_html('<div class="finding">{}</div>', render_markdown(obj.content))


@admin.register(PlanRecord)
class PlanRecordAdmin(SyncedIndexAdmin):
    list_display = ("plan", "archived", "progress", "task_counts", "current_phase", "last_update")
    list_filter = ("archived", HasFailuresFilter, "state")
    search_fields = ("name", "title", "tasks__description")
    search_help_text = "Plan name, title, or the text of any of its tasks."
    list_per_page = 100
    fieldsets = (
        (None, {"fields": (("title", "name"), ("plan_path", "archived", "has_status"))}),
        ("Progress", {"fields": (("state", "progress"), "task_counts", "current_phase")}),
        ("Timestamps", {"fields": (("created_at", "last_updated_at", "synced_at"),)}),
    )
    readonly_fields = (
        "title", "name", "archived", "plan_path", "state", "progress", "task_counts", "current_phase", "has_status",
        "created_at", "last_updated_at", "synced_at",
    )
    inlines = (PhaseInline, TaskInline, FindingInline)

    @admin.display(description="Plan", ordering="name")
    def plan(self, obj):
        # Some titles are paragraphs: two lines of it here (CSS), all of it on hover and on the plan's page.
        return format_html('<span class="plan-title" title="{}">{}</span><small class="plan-name">{}</small>',
                           obj.title, obj.title, obj.name)

    @admin.display(description="Progress", ordering="progress_percent")
    def progress(self, obj):
        return _progress_bar(obj.progress_percent)

    @admin.display(description="Last update", ordering="last_updated_at")
    def last_update(self, obj):
        if not obj.has_status:
            return "never run"  # the plan file's own date is no update of a run
        return timezone.localtime(obj.last_updated_at).strftime("%Y-%m-%d %H:%M:%S") if obj.last_updated_at else "-"

    @admin.display(description="Tasks")
    def task_counts(self, obj):
        return format_html('<span class="task-counts">{} of {}</span>', _counts(obj), obj.total) if obj.total \
            else "no tasks"

    class Media:
        css = {"all": ["api/admin-index.css"]}


@admin.register(OrchestratorRecord)
class OrchestratorRecordAdmin(SyncedIndexAdmin):
    list_display = (
        "instance_id", "plan", "status", "alive", "stale", "pid", "started_at", "last_heartbeat", "port",
    )
    list_filter = ("status",)
    search_fields = ("instance_id", "plan_path")
    fields = readonly_fields = (
        "instance_id", "plan", "status", "alive", "stale", "pid", "worktree_path", "socket_path", "port",
        "started_at", "last_heartbeat",
    )

    @staticmethod
    def _instance(obj) -> Instance:
        return Instance(
            id=obj.instance_id, pid=obj.pid, plan_path=obj.plan_path, worktree_path=obj.worktree_path,
            started_at=obj.started_at, last_heartbeat=obj.last_heartbeat, status=obj.status,
            socket_path=obj.socket_path, port=obj.port,
        )

    @admin.display(description="Alive", boolean=True)
    def alive(self, obj):
        return is_alive(self._instance(obj))

    @admin.display(description="Stale", boolean=True)
    def stale(self, obj):
        return is_stale(self._instance(obj), timezone.now())

    @admin.display(description="Plan", ordering="plan_path")
    def plan(self, obj):
        try:
            files = orchestrator_settings().layout.instance_plan(obj)
        except InvalidName:
            return obj.plan_path
        record = PlanRecord.objects.filter(name=files.name, archived=files.archived).first()
        if record is None:
            return obj.plan_path
        url = reverse("admin:api_planrecord_change", args=[record.pk])
        return format_html('<a href="{}">{}</a>', url, record.title or record.name)
