"""Billing cycles: pre-bills, guideline checks, LEDES files, and following the bills made in the PMS.

Modules, one job each: `period` (which month), `prebill` (entries -> pre-bills), `guidelines`
(invoice checks), `ledes` / `ledes_parser` (files and a strict reader), `render` (HTML and PDF),
`reconcile` (PMS bill vs pre-bill), `cycle` and `lifecycle` (the two functions a scheduler runs).
"""
