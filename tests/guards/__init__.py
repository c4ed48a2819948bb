"""Tests of the input and output guards."""
