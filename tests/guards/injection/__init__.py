"""Tests of prompt-injection detection."""
