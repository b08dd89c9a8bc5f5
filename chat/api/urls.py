from rest_framework.routers import SimpleRouter

from .views import AgentViewSet, ConversationViewSet, LabelViewSet, VisitorViewSet

router = SimpleRouter()
router.register("conversations", ConversationViewSet, basename="api-conversation")
router.register("visitors", VisitorViewSet, basename="api-visitor")
router.register("agents", AgentViewSet, basename="api-agent")
router.register("labels", LabelViewSet, basename="api-label")
urlpatterns = router.urls
