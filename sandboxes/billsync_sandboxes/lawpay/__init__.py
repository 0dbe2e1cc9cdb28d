"""The sandbox of the LawPay payment gateway (API, hosted pages) and its admin API."""
