"""Assertions for test authors: session continuity and budgets."""
