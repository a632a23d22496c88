"""Signed webhooks for the events a person should hear about (task failed, run stopped ...)."""
