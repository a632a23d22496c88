"""`{% browser_notifications %}`: the dashboard's opt-in panel, with the kinds named as webhooks name them."""

from django import template

from ..kinds import DEFAULT_KINDS, Kind

register = template.Library()


@register.inclusion_tag("notifications/browser.html")
def browser_notifications():
    return {"kinds": Kind.choices, "default_kinds": [str(kind) for kind in DEFAULT_KINDS]}
