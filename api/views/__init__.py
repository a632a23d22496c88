"""Thin DRF views: validate the request, call one selector or service, serialize the result."""
