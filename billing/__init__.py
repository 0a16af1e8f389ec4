"""Meters, usage ledger, price book, invoices and billing providers."""
