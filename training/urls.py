from django.urls import path

from training.api import views

urlpatterns = [
    path("datasets", views.DatasetListCreate.as_view(), name="datasets"),
    path("datasets/<str:dataset_id>", views.DatasetDetail.as_view(), name="dataset"),
    path("fine-tunes", views.FineTuneListCreate.as_view(), name="fine-tunes"),
    path("fine-tunes/<str:job_id>", views.FineTuneDetail.as_view(), name="fine-tune"),
    path("fine-tunes/<str:job_id>/cancel", views.FineTuneCancel.as_view(), name="fine-tune-cancel"),
    path("fine-tunes/<str:job_id>/events", views.FineTuneEvents.as_view(), name="fine-tune-events"),
]
