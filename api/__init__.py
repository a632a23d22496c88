"""REST layer over the orchestrator core: selectors, services, serializers and views."""
