"""Payments: collecting invoices, trust-safe routing, plans, exactly-once charges, reconciliation, the ledger.

Vendor-free: the gateway is `core.gateway.PaymentGateway`; LawPay lives in connectors/lawpay.
"""
