from rest_framework.routers import SimpleRouter

from .api import FeedbackItemViewSet

router = SimpleRouter()
router.register("items", FeedbackItemViewSet, basename="api-backlog-item")
urlpatterns = router.urls
