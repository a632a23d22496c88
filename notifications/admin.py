"""Admin: webhooks are edited here; deliveries and their attempts are a read-only log."""

from django import forms
from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from orchestrator.errors import OrchestratorError

from .kinds import Kind
from .models import Attempt, Delivery, Webhook
from .services import webhook_enable
from .targets import target_resolve


class WebhookForm(forms.ModelForm):
    url = forms.URLField(max_length=2000, assume_scheme="https",
                         help_text="Receives a signed POST per event (http or https).")
    kinds = forms.MultipleChoiceField(choices=Kind.choices, widget=forms.CheckboxSelectMultiple,
                                      help_text="Event kinds to send.")

    class Meta:
        model = Webhook
        fields = ("name", "url", "kinds", "plan", "enabled", "secret")

    def clean_url(self):
        url = self.cleaned_data["url"]
        try:
            target_resolve(url)
        except OrchestratorError as exc:
            raise forms.ValidationError(exc.message) from None
        return url


@admin.register(Webhook)
class WebhookAdmin(admin.ModelAdmin):
    form = WebhookForm
    list_display = ("__str__", "url", "kind_labels", "plan", "enabled", "disabled_reason", "deliveries_link")
    list_filter = ("enabled",)
    search_fields = ("name", "url", "plan")
    readonly_fields = ("disabled_reason", "failing_streak", "created_at", "created_by", "deliveries_link")

    @admin.display(description="kinds")
    def kind_labels(self, obj):
        return obj.kind_labels()

    @admin.display(description="deliveries")
    def deliveries_link(self, obj):
        if obj.pk is None:
            return "-"
        url = reverse("admin:notifications_delivery_changelist") + f"?webhook__id__exact={obj.pk}"
        return format_html('<a href="{}">{} deliveries</a>', url, obj.deliveries.count())

    def save_model(self, request, obj, form, change):
        if obj.pk is None:
            obj.created_by = request.user
        if obj.enabled and (not change or "enabled" in form.changed_data):
            webhook_enable(webhook=obj)
        super().save_model(request, obj, form, change)


class AttemptInline(admin.TabularInline):
    model = Attempt
    fields = ("number", "started_at", "status_code", "latency", "error")
    readonly_fields = fields
    extra = 0
    can_delete = False

    @admin.display(description="latency")
    def latency(self, obj):
        return f"{obj.latency_ms:.1f} ms"

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ("created_at", "webhook", "kind", "instance_id", "event_id", "state", "attempts",
                    "next_attempt_at", "last_error")
    list_filter = ("state", "kind", "webhook")
    search_fields = ("instance_id", "uuid")
    date_hierarchy = "created_at"
    inlines = [AttemptInline]
    readonly_fields = ("webhook", "uuid", "instance_id", "event_id", "event_type", "kind", "state", "attempts",
                       "next_attempt_at", "lease_until", "created_at", "finished_at", "last_error", "body")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
