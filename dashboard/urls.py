"""Dashboard pages; mounted at "" before the API so `/` is the front page."""

from django.urls import path

from . import views

app_name = "dashboard"

urlpatterns = [
    path("", views.index, name="index"),
    path("orchestrators/<str:instance_id>/", views.orchestrator_detail, name="orchestrator"),
    path("plans/<str:name>/", views.plan_detail, name="plan"),
]
