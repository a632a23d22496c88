"""Admin pages: the audit trail, read-only, because a trail anyone can edit proves nothing."""

from django.contrib import admin

from .models import AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = (
        "created_at", "username", "action", "target_type", "target", "task_id", "accepted", "status_code", "remote_addr",
    )
    list_filter = ("action", "accepted", "status_code", "target_type")
    search_fields = ("username", "target", "task_id")
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
