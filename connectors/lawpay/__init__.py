"""LawPay (AffiniPay / 8am payment gateway) connector: payment links, charges, plans and events."""
