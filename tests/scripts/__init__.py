"""Tests of the project scripts."""
