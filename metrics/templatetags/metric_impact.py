"""An impact readout as people read it: one template for the tree's panel, the roadmap and reviews."""

from __future__ import annotations

from typing import Any

from django import template

from metrics.impact import Readout, signed
from metrics.models import Grain, Metric

register = template.Library()

VERDICTS = {
    "improved": "Improved",
    "worse": "Worse",
    "unclear": "No clear effect",
    "waiting": "Waiting for data",
}


@register.inclusion_tag("metrics/_impact.html")
def impact_readout(
    readout: Readout, metric: Metric, team: Any, *, compact: bool = False, link: bool = True, named: bool = True
) -> dict[str, Any]:
    """The readout's verdict and message; unless compact, its numbers too.

    `named`: say which metric (`link`: as a link to its page); the metric's own page does not need to.
    """
    unit = "month" if metric.grain == Grain.MONTH else "week"
    return {
        "r": readout,
        "metric": metric,
        "team": team,
        "compact": compact,
        "link": link,
        "named": named,
        "verdict_label": VERDICTS[readout.verdict],
        "window": f"{readout.periods} {unit}{'s' if readout.periods != 1 else ''}",
        "unit": unit,
        "difference": signed(readout.difference, metric) if readout.difference is not None else "—",
    }
