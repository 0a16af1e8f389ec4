from django.urls import path

from inference.api import views

urlpatterns = [
    path("models", views.ModelList.as_view(), name="models"),
    path("models/<str:model_id>", views.ModelDetail.as_view(), name="model"),
    path("models/<str:model_id>/activate", views.ModelActivate.as_view(), name="model-activate"),
    path("models/<str:model_id>/predict", views.ModelPredict.as_view(), name="model-predict"),
    path("predictions", views.PredictionCreate.as_view(), name="predictions"),
    path("predictions/<str:prediction_id>", views.PredictionDetail.as_view(), name="prediction"),
]
