# A small, reproducible image: pinned dependencies, non-root, config and data as volumes.
#   docker build -t jp-techpolicy-bot .
#   docker run -d -e SLACK_BOT_TOKEN=xoxb-... -v "$PWD/config:/config" -v bot-data:/data \
#     -p 127.0.0.1:8080:8080 jp-techpolicy-bot
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Exact versions from the lock (its own layer: rebuilt only when the lock changes).
COPY requirements.lock ./
RUN pip install --no-deps -r requirements.lock

# The bot itself, built with the locked setuptools (no build isolation: nothing unpinned).
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY config ./config
RUN pip install --no-deps --no-build-isolation . \
    && python -m bot --version

RUN useradd --system --uid 10001 --no-create-home --home-dir /app bot \
    && mkdir -p /config /data \
    && chown bot /config /data
USER bot

# An empty /config volume gets the default configuration on first start.
ENV BOT_CONFIG=/config \
    BOT_DATA_DIR=/data \
    BOT_INIT_IF_EMPTY=1 \
    BOT_HEALTH_HOST=0.0.0.0 \
    BOT_HEALTH_PORT=8080
VOLUME ["/config", "/data"]
EXPOSE 8080

HEALTHCHECK --interval=60s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4).status != 200)"]

CMD ["python", "-m", "bot", "--log-format", "json", "run"]
