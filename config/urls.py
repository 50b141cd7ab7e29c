from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.shortcuts import redirect
from django.templatetags.static import static
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from config import health
from interviews.api import router as interviews_router
from metrics.api import router as metrics_router
from opportunities.api import router as opportunities_router
from portfolio.api import ObtainTokenView
from portfolio.api import router as portfolio_router
from reviews.api import router as reviews_router

# One API root for every app's viewsets; each app's basenames are its own, so URL names stay unique.
api_router = DefaultRouter()
api_router.include_format_suffixes = False  # JSON only: no ".json" twin of every route (actions did not accept it)
for app_router in (portfolio_router, interviews_router, opportunities_router, metrics_router, reviews_router):
    api_router.registry.extend(app_router.registry)

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/auth/token/", ObtainTokenView.as_view(), name="api_token"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api_schema"),
    # Swagger UI sets inline styles; scripts stay strict.
    path(
        "api/docs/",
        csp_update({"style-src": [UNSAFE_INLINE]})(SpectacularSwaggerSplitView.as_view(url_name="api_schema")),
        name="api_docs",
    ),
    path("favicon.ico", lambda request: redirect(static("favicon.svg"), permanent=True)),
    path("api/", include((api_router.urls, "api"), namespace="api")),
    path("", include("portfolio.urls")),
    path("", include("opportunities.urls")),
    path("", include("metrics.urls")),
    path("", include("interviews.urls")),
    path("", include("reviews.urls")),
]
