# The production image: gunicorn serving Django, static files through whitenoise.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=config.settings.production \
    PIP_NO_CACHE_DIR=1

WORKDIR /app
RUN useradd --create-home --uid 1000 sextant
COPY requirements/base.lock requirements/base.lock
RUN pip install -r requirements/base.lock
COPY . .
# collectstatic needs a key to import the settings; this one is thrown away with the build layer.
RUN DJANGO_SECRET_KEY=build-only-not-used-at-run-time-0123456789abcdefghijklmnop \
    python manage.py collectstatic --noinput
USER sextant
EXPOSE 8000
CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
