from django.urls import path

from billing.api import spend, views
from billing.api.webhook import StripeWebhook

urlpatterns = [
    path("billing", spend.BillingAccountView.as_view(), name="billing"),
    path("billing/quotas", spend.KeyQuotaView.as_view(), name="billing-quotas"),
    path("usage", views.UsageSummary.as_view(), name="usage"),
    path("usage.csv", views.UsageCsv.as_view(), name="usage-csv"),
    path("invoices", views.InvoiceList.as_view(), name="invoices"),
    path("invoices/<str:invoice_id>", views.InvoiceDetail.as_view(), name="invoice"),
    path(
        "invoices/<str:invoice_id>/lines.csv",
        views.InvoiceLinesCsv.as_view(),
        name="invoice-lines-csv",
    ),
    path(
        "invoices/<str:invoice_id>/lines/<str:line_id>/events",
        views.InvoiceLineEvents.as_view(),
        name="invoice-line-events",
    ),
    path(
        "invoices/<str:invoice_id>/lines/<str:line_id>/events.csv",
        views.InvoiceLineEventsCsv.as_view(),
        name="invoice-line-events-csv",
    ),
    path(
        "invoices/<str:invoice_id>/credit-notes",
        views.InvoiceCreditNoteList.as_view(),
        name="invoice-credit-notes",
    ),
    path("stripe/webhook", StripeWebhook.as_view(), name="stripe-webhook"),
]
