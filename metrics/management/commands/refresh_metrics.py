"""Refresh metrics now: queue them for the workers, or (--sync) compute them in this process."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from metrics import services
from metrics.models import Metric, RunStatus
from metrics.progress import ProgressBar


class Command(BaseCommand):
    help = "Refresh metrics: all, a team's (--team SLUG) or one (--metric KEY). --sync computes here and now."

    def add_arguments(self, parser) -> None:  # type: ignore[no-untyped-def]
        parser.add_argument("--team", help="Only this team's metrics (its slug).")
        parser.add_argument("--metric", help="Only the metric with this key (with --team if keys repeat).")
        parser.add_argument("--sync", action="store_true", help="Compute in this process instead of queueing.")

    def handle(self, *args, team=None, metric=None, sync=False, **options) -> None:  # type: ignore[no-untyped-def]
        metrics = Metric.objects.select_related("warehouse").order_by("team__slug", "key")
        if team:
            metrics = metrics.filter(team__slug=team)
        if metric:
            metrics = metrics.filter(key=metric)
        metrics = list(metrics)
        if not metrics:
            raise CommandError("No metric matches: check --team and --metric.")
        if not sync:
            services.refresh_enqueue_many(metrics=metrics, trigger="command")
            self.stdout.write(f"Queued {len(metrics)} refresh{'es' if len(metrics) != 1 else ''} for the workers.")
            return
        bar = ProgressBar(len(metrics), "Refreshing", stream=self.stderr._out)
        failed = []
        for m in metrics:
            run = services.refresh_sync(metric=m, trigger="command")
            if run.status == RunStatus.FAILED:
                failed.append((m, run.error))
            bar.advance(m.key)
        ok = len(metrics) - len(failed)
        self.stdout.write(self.style.SUCCESS(f"{ok} refreshed.") if ok else "")
        for m, error in failed:
            self.stdout.write(self.style.ERROR(f"{m.team.slug}/{m.key} failed: {error}"))
        if failed:
            raise CommandError(f"{len(failed)} of {len(metrics)} refreshes failed (earlier values are kept).")
