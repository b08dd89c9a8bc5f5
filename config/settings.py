"""One settings module for both modes, chosen by the environment.

Embedded default (no variables): SQLite, in-memory channel layer, eager Celery,
emails written to files. Real stack: DATABASE_URL (PostgreSQL) and REDIS_URL
(channel layer and Celery broker). Every variable is listed in `.env.example`.
"""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DJANGO_DEBUG", True)

# Production must bring its own secret; only a debug (embedded) run gets a default.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY is required when DJANGO_DEBUG is off.")
    SECRET_KEY = "embedded-development-only-not-a-secret"

# Production names its hosts: with DEBUG off and none given, every request is refused and
# `check --deploy` says why (security.W020), rather than answering for localhost only.
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", "")

# --- Behind a TLS-terminating proxy (docs/deploy.md) ----------------------------------
# On by default with DEBUG off, off for debug runs on plain http; each has a variable to
# turn it off (e.g. DJANGO_SECURE_SSL_REDIRECT=0 for `make run-stack` without TLS).
# The proxy must set X-Forwarded-Proto itself, overwriting what a client sent.
if env_bool("DJANGO_SECURE_PROXY_SSL_HEADER", not DEBUG):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", not DEBUG)
# Load balancers probe the app's port directly, over plain http.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SESSION_COOKIE_SECURE = env_bool("DJANGO_SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("DJANGO_CSRF_COOKIE_SECURE", not DEBUG)
# An hour by default, so a TLS mistake is not pinned into browsers for long; raise it
# (31536000) once https works, and opt into subdomains and preload deliberately.
SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_SECURE_HSTS_SECONDS", 0 if DEBUG else 3600))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", False)

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "rest_framework",
    # API tokens for integrations (/api/v1/, docs/api.md): made in admin or by drf_create_token.
    "rest_framework.authtoken",
    "crispy_forms",
    "crispy_bootstrap5",
    "chat",
    "agents",
    "knowledgebase",
    "feedback",
]

MIDDLEWARE = [
    # First, so every response (redirects and errors too) carries its X-Request-ID.
    "config.logging.request_id_middleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The browser's language (Accept-Language) among LANGUAGES; an agent's own setting overrides it below.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "agents.middleware.AgentLocaleMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    # Health checks: a persistent connection that died (PostgreSQL restarted, a proxy cut
    # it) is replaced before the next request uses it, so a node recovers without restart;
    # a busy one is checked once a second, not before every socket frame (config/postgresql).
    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL, conn_max_age=int(os.environ.get("CONN_MAX_AGE", 60)), conn_health_checks=True
        )
    }
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        DATABASES["default"]["ENGINE"] = "config.postgresql"
    # Server-side binding lets psycopg prepare a statement it has run five times, so
    # PostgreSQL plans it once per connection: planning the message path's row lock (six
    # joined tables) cost more than running it (docs/performance.md, round 3).
    DATABASES["default"].setdefault("OPTIONS", {}).update(server_side_binding=True, prepare_threshold=5)
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("SQLITE_PATH", str(BASE_DIR / "db.sqlite3")),
            # IMMEDIATE makes every transaction take SQLite's write lock up front, so
            # two socket threads writing at once wait for each other instead of
            # failing with "database is locked" half-way through.
            "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Channel layer and Celery ------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            # channels_redis's layer with group sends pipelined (chat/channel_layer.py).
            "BACKEND": "chat.channel_layer.PipelinedRedisChannelLayer",
            "CONFIG": {
                # socket_timeout None: redis-py 8 defaults to 5 s, which makes
                # channels_redis crash every idle consumer (docs/architecture.md).
                # max_connections: the default pool of 100 crashed consumers under load.
                "hosts": [
                    {
                        "address": REDIS_URL,
                        "socket_timeout": None,
                        "max_connections": int(os.environ.get("CHANNEL_REDIS_MAX_CONNECTIONS", 1000)),
                    }
                ],
                # The layer still drops over capacity; clients recover through seq + sync.
                "capacity": int(os.environ.get("CHANNEL_CAPACITY", 1000)),
                "prefix": os.environ.get("CHANNEL_PREFIX", "asgi"),
            },
        }
    }
    CELERY_BROKER_URL = REDIS_URL
    CELERY_TASK_ALWAYS_EAGER = False
    # Shared by every ASGI process, so per-IP limits hold across the whole cluster.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": os.environ.get("CACHE_KEY_PREFIX", "helpdesk"),
            # Django opens a pool per backend, and makes backends per async context.
            "OPTIONS": {"pool_class": "config.cache.ProcessConnectionPool"},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "chat.memory_layer.RecordingInMemoryChannelLayer"}}
    CELERY_BROKER_URL = "memory://"
    CELERY_TASK_ALWAYS_EAGER = True
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# How often an ASGI process collects its oldest generation of objects, which it otherwise
# does whenever that has grown by a quarter: pauses of 300-500 ms at 2,000 sockets
# (config/collector.py). 0 keeps CPython's own thresholds.
ASGI_FULL_COLLECTION_SECONDS = float(os.environ.get("ASGI_FULL_COLLECTION_SECONDS", 120))
# How often it collects its young generation, and every tenth time the middle one, besides
# when CPython's count says so: under chat load the count lags and the pauses grew to
# 50-100 ms (config/collector.py). 0 leaves them to the count, as does a full-collection
# setting of 0, which keeps all of CPython's own rules.
ASGI_YOUNG_COLLECTION_SECONDS = float(os.environ.get("ASGI_YOUNG_COLLECTION_SECONDS", 0.1))
# How often each ASGI process checks that Redis still holds its channel groups (a Redis
# restarted without its data forgets them) and whether its sockets missed events (the
# layer dropped them, or could not send them): the longest a client lacks a chat's last
# event (chat/consumers/layer_watch.py).
CHANNEL_LAYER_CHECK_SECONDS = float(os.environ.get("CHANNEL_LAYER_CHECK_SECONDS", 5))
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
# Workers log through LOGGING above (JSON in production), not Celery's own root handler.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE = {
    # Presence: agents whose consoles went quiet past the grace period become offline.
    "mark-absent-agents-offline": {"task": "agents.tasks.mark_absent_agents_offline", "schedule": 30.0},
    # A safety net for auto-assignment, which otherwise runs whenever a chat queues or a slot frees.
    "dispatch-queue": {"task": "chat.tasks.dispatch_queue", "schedule": 15.0},
    # R24: never leave a chat hanging.
    "sweep-missed-and-abandoned": {"task": "chat.tasks.sweep_conversations", "schedule": 60.0},
    # Emails: review requests when due, and any email whose task was lost (broker down at commit).
    "requeue-emails": {"task": "chat.tasks.requeue_emails", "schedule": 60.0},
    # R9: supervisors hear of customers waiting past the limit.
    "alert-long-waits": {"task": "chat.tasks.alert_long_waits", "schedule": 15.0},
    # R4: conversations past their site's retention period are anonymised, once a day.
    "anonymise-expired-conversations": {"task": "chat.tasks.anonymise_expired_conversations", "schedule": 86400.0},
}
CHAT_MISSED_AFTER_SECONDS = int(os.environ.get("CHAT_MISSED_AFTER_SECONDS", 600))
CHAT_ABANDONED_AFTER_SECONDS = int(os.environ.get("CHAT_ABANDONED_AFTER_SECONDS", 1800))
CHAT_WAIT_ALERT_SECONDS = int(os.environ.get("CHAT_WAIT_ALERT_SECONDS", 45))
# R16: a follow-up email waits this long for more answers from the agent. Eager Celery
# (the embedded default) has no delayed tasks, so there it goes at once.
CHAT_FOLLOW_UP_BATCH_SECONDS = int(os.environ.get("CHAT_FOLLOW_UP_BATCH_SECONDS", 60 if REDIS_URL else 0))

# --- Email --------------------------------------------------------------------------
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = int(os.environ.get("EMAIL_PORT", 25))
    EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = os.environ.get("EMAIL_FILE_PATH", str(BASE_DIR / "var" / "emails"))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "support@example.com")
# This server as people reach it, for links in emails (unsubscribe), which are read far from any request.
PUBLIC_URL = os.environ.get("PUBLIC_URL", "http://127.0.0.1:8000")

# --- Auth, i18n, static ------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "agents:console"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
# Every language here is complete in locale/ (console, widget, emails); a visitor's
# browser picks among them unless the site fixes one (Site.language).
LANGUAGES = [("en", "English"), ("de", "Deutsch")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = os.environ.get("DJANGO_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Files sent in chats. Never served under a public URL: only chat.attachments.views hands
# them out, to the conversation's people, by signed links that expire.
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "var" / "media"))
# Above any site's own limit (Site.attachment_max_bytes): what one upload may ever be.
CHAT_ATTACHMENT_MAX_BYTES = int(os.environ.get("CHAT_ATTACHMENT_MAX_BYTES", 25 * 1024 * 1024))
CHAT_ATTACHMENT_URL_SECONDS = int(os.environ.get("CHAT_ATTACHMENT_URL_SECONDS", 3600))
CHAT_VISITOR_UPLOADS_PER_MINUTE = int(os.environ.get("CHAT_VISITOR_UPLOADS_PER_MINUTE", 10))
# Requests per user (an integration's token is a user) to /api/v1/, in DRF's form "N/minute":
# an integration stuck in a loop gets 429s instead of slowing the agents' console.
API_RATE = os.environ.get("API_RATE", "1200/minute")
# Debug runs serve straight from the source folders, so no collectstatic is needed.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# --- Chat protocol limits --------------------------------------------------------------
CHAT_MESSAGE_MAX_LENGTH = int(os.environ.get("CHAT_MESSAGE_MAX_LENGTH", 4000))
CHAT_FRAME_MAX_BYTES = int(os.environ.get("CHAT_FRAME_MAX_BYTES", 16 * 1024))
# Token bucket per socket: a burst of CHAT_RATE_BURST frames, refilled at CHAT_RATE_PER_SECOND.
CHAT_RATE_BURST = int(os.environ.get("CHAT_RATE_BURST", 20))
CHAT_RATE_PER_SECOND = float(os.environ.get("CHAT_RATE_PER_SECOND", 5))
# Frames refused unread (not JSON, too large, over the rate, of no known type) a socket may
# send in a row, earned back at CHAT_RATE_PER_SECOND; past them it is closed with 4008.
CHAT_REFUSALS_BEFORE_CLOSE = int(os.environ.get("CHAT_REFUSALS_BEFORE_CLOSE", 100))
# Across all sockets of one IP address, per minute (a flood from many tabs or scripts).
CHAT_IP_CONVERSATIONS_PER_MINUTE = int(os.environ.get("CHAT_IP_CONVERSATIONS_PER_MINUTE", 10))
CHAT_IP_MESSAGES_PER_MINUTE = int(os.environ.get("CHAT_IP_MESSAGES_PER_MINUTE", 120))
# One visitor opening chat after chat.
CHAT_VISITOR_CONVERSATIONS_PER_MINUTE = int(os.environ.get("CHAT_VISITOR_CONVERSATIONS_PER_MINUTE", 3))

# Log lines name their request, socket and conversation (config/logging.py): JSON lines
# for production (LOG_FORMAT=json, the default with DEBUG off), readable text for `make run`.
LOG_FORMAT = os.environ.get("LOG_FORMAT", "text" if DEBUG else "json")
# One line per HTTP request (id, status, duration): the production access log. Debug runs
# have Daphne's own access log on the terminal instead.
LOG_REQUESTS = env_bool("LOG_REQUESTS", not DEBUG)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "config.logging.ContextFilter"}},
    "formatters": {"structured": {"()": "config.logging.formatter", "fmt": LOG_FORMAT}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["context"], "formatter": "structured"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    # Django's default handler on "django" would print its lines a second time, unformatted,
    # in debug runs; they reach the console handler through the root logger instead.
    "loggers": {"django": {"handlers": [], "level": "INFO"}},
}
