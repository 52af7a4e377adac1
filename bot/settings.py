"""Every environment variable the bot reads, read once, here.

::

    BOT_CONFIG          the configuration folder (--config; default ./config)
    BOT_DATA_DIR        the state folder for SQLite (--data-dir; default ./data)
    BOT_DATABASE_URL    postgresql://... : PostgreSQL instead of SQLite (database_url in bot.yaml)
    BOT_HEALTH_PORT     /healthz and /metrics (--health-port; http.port in bot.yaml)
    BOT_HEALTH_HOST     their address (--health-host; http.host in bot.yaml)
    BOT_INIT_IF_EMPTY   an empty config folder gets the default configuration (the image sets it)
    SLACK_API_URL       the Slack Web API's base URL (slack.api_url in bot.yaml): proxies, tests
    SLACK_APP_TOKEN     the app-level token (xapp-...) for the Slack app over Socket Mode
    and the secrets the configuration names: slack.token_env (SLACK_BOT_TOKEN by default) and
    each webhook_env

Code takes a :class:`Settings`. Two places read ``os.environ`` themselves, on purpose: the
log scrubber (bot.runtime.logs) reads the values of the secret variables it is told about,
so that a secret is scrubbed however it reached a message; and the PostgreSQL engine falls
back on libpq's own PGUSER, PGHOST, PGPORT and PGDATABASE, as psql does.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bot.errors import ConfigError

DEFAULT_CONFIG_DIR = "config"
DEFAULT_DATA_DIR = "data"


@dataclass(frozen=True)
class Settings:
    config_dir: Path = Path(DEFAULT_CONFIG_DIR)
    data_dir: Path = Path(DEFAULT_DATA_DIR)
    database_url: str | None = None
    health_host: str | None = None
    health_port: int | None = None
    init_if_empty: bool = False
    slack_api_url: str | None = None
    slack_app_token: str | None = None
    #: the environment as it was read: the configuration names its secrets' variables
    environ: Mapping[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        config_dir: str | None = None,
        data_dir: str | None = None,
        health_host: str | None = None,
        health_port: int | None = None,
    ) -> Settings:
        """Command-line values (when given) win over the environment."""
        env = dict(os.environ if environ is None else environ)
        port = health_port
        if port is None and env.get("BOT_HEALTH_PORT"):
            try:
                port = int(env["BOT_HEALTH_PORT"])
            except ValueError as e:
                raise ConfigError(
                    "BOT_HEALTH_PORT", "", f"{env['BOT_HEALTH_PORT']!r} is not a port number"
                ) from e
        return cls(
            config_dir=Path(config_dir or env.get("BOT_CONFIG") or DEFAULT_CONFIG_DIR),
            data_dir=Path(data_dir or env.get("BOT_DATA_DIR") or DEFAULT_DATA_DIR),
            database_url=env.get("BOT_DATABASE_URL") or None,
            health_host=health_host or env.get("BOT_HEALTH_HOST") or None,
            health_port=port,
            init_if_empty=bool(env.get("BOT_INIT_IF_EMPTY")),
            slack_api_url=env.get("SLACK_API_URL") or None,
            slack_app_token=(env.get("SLACK_APP_TOKEN") or "").strip() or None,
            environ=env,
        )

    def secret(self, name: str | None) -> str:
        """The value of the variable the configuration names (stripped), or ""."""
        return (self.environ.get(name) or "").strip() if name else ""
