"""Presentation: an allocation in words, summaries, notebook frames, reports and pages."""
