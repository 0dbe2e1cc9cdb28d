"""The demo firm: a synthetic firm's month (data.py), and its seeds and clocks (firm.py).

Used by `billsync demo`, `billsync sandbox --demo-firm` and the tests.
"""
