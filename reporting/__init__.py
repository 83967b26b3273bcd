"""Reporting framework for ads-moderation quality operations."""

__version__ = "0.1.0"
