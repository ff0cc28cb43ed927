"""The Graph API client for the commands that talk to Meta (connect, templates --sync): token from secrets only."""

from __future__ import annotations

import httpx

from app.commands._common import CommandError
from core.cloudapi import CloudApi
from core.config import Config, ConfigError, load_secrets


def graph_client(config: Config, http: httpx.AsyncClient) -> CloudApi:
    try:
        secrets = load_secrets(config)
    except ConfigError as error:
        raise CommandError(str(error)) from None
    if not secrets.access_token:
        raise CommandError("no access token: set $WABOX_ACCESS_TOKEN or put access_token in secrets.toml "
                           "(mode 0600) beside the config file")
    return CloudApi(http, token=secrets.access_token.reveal(), base_url=config.graph_url,
                    media_hosts=("lookaside.fbsbx.com", httpx.URL(config.graph_url).netloc.decode()))


def http_client() -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=httpx.Timeout(20.0, connect=5.0))
