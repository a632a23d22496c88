"""Reads: plain keyword-only functions over the repository's files, named <entity>_<action>."""
