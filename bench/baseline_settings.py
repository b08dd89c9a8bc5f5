"""Minimal settings of the bare baseline (bench/baseline_app.py): no apps of ours, no middleware.

The same PostgreSQL database and the same Redis channel layer settings as config/settings.py
(socket_timeout None, max_connections, capacity, prefix), read from the same variables. The
layer is channels_redis's own, or ours with `BASELINE_CHANNEL_LAYER=ours` (--baseline-layer).
"""

import os

import dj_database_url

DEBUG = False
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "bench-baseline-not-a-secret")
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = ["channels"]
MIDDLEWARE: list[str] = []
ROOT_URLCONF = "bench.baseline_app"
ASGI_APPLICATION = "bench.baseline_app.application"
USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

DATABASES = {
    "default": dj_database_url.parse(os.environ["DATABASE_URL"], conn_max_age=int(os.environ.get("CONN_MAX_AGE", 60)))
}

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": {
            "channels_redis": "channels_redis.core.RedisChannelLayer",
            "ours": "chat.channel_layer.PipelinedRedisChannelLayer",
        }[os.environ.get("BASELINE_CHANNEL_LAYER", "channels_redis")],
        "CONFIG": {
            "hosts": [
                {
                    "address": os.environ["REDIS_URL"],
                    "socket_timeout": None,
                    "max_connections": int(os.environ.get("CHANNEL_REDIS_MAX_CONNECTIONS", 1000)),
                }
            ],
            "capacity": int(os.environ.get("CHANNEL_CAPACITY", 1000)),
            "prefix": os.environ.get("CHANNEL_PREFIX", "asgi"),
        },
    }
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}
