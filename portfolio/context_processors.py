from django.http import HttpRequest

from .access import teams_for


def navigation(request: HttpRequest) -> dict:
    """The team switcher: the teams of the signed-in user, evaluated only when a page shows it."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "nav_teams": teams_for(user).order_by("name").only("slug", "name"),
        "current_team": getattr(request, "team", None),
        "current_role": getattr(request, "role", None),
    }
