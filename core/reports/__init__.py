"""Reports: capture, utilization, realization, collection, time-to-invoice and lockup, from the store.

`metrics/` holds one definition per module; `compute.py` is the one place that computes them for a
firm and period; `render.py` and `dashboard.py` turn the result into a table, CSV, JSON or HTML.
"""
