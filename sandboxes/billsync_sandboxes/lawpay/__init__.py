"""A local stand-in for the LawPay payment gateway (API, hosted pages) and its admin API."""
