"""The request pipeline: one stage per module; the order is declared once, in ``order.py``."""
