"""The whole loop on loopback for tests: receiver + Cloud API simulator (+ a CloudApi client pointed at it)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from core.asgi import serve_asgi
from core.cloudapi import CloudApi
from core.server import create_receiver
from core.simulator.app import create_simulator
from core.simulator.world import World
from core.store import Store
from tests.conftest import APP_SECRET, VERIFY_TOKEN

TOKEN = "sim-access-token"
NUMBER_A, NUMBER_B, WABA = "209837465112233", "209837465998877", "310492887654321"


@dataclass
class Loop:
    db: Path | str
    receiver_url: str
    sim_url: str
    world: World
    http: httpx.AsyncClient

    @property
    def graph_url(self) -> str:
        return f"{self.sim_url}/v23.0"

    def api(self, *, timeout: float = 5.0) -> CloudApi:
        host = httpx.URL(self.sim_url).netloc.decode()
        return CloudApi(self.http, token=TOKEN, base_url=self.graph_url, media_hosts=(host,))

    async def inbound(self, **spec) -> dict:
        response = await self.http.post(f"{self.sim_url}/_sim/inbound", json=spec)
        response.raise_for_status()
        return response.json()

    async def outbound(self) -> list[dict]:
        return (await self.http.get(f"{self.sim_url}/_sim/outbound")).json()


@contextlib.asynccontextmanager
async def running_loop(tmp_path: Path, *, status_delays=(0.01, 0.02, 0.03), timeout: float = 5.0,
                       seed: int = 0, db: Path | str | None = None) -> AsyncIterator[Loop]:
    """`db`: the database (conftest's db_target, so the loop runs on either backend); default a file in tmp."""
    db = db or tmp_path / "wabox.db"
    store = await Store.open(db)
    await store.write(lambda conn: conn.executemany(
        "INSERT INTO channel(phone_number_id, waba_id, name, display_phone_number, messaging_limit_tier, health)"
        " VALUES (?, ?, ?, ?, 'TIER_2K', 'ok')",
        [(NUMBER_A, WABA, "Ogrody A", "48221234567"), (NUMBER_B, WABA, "Ogrody B", "48227654321")]))
    await store.close()
    receiver = create_receiver(db, app_secret=APP_SECRET, verify_token=VERIFY_TOKEN, channels={NUMBER_A, NUMBER_B})
    async with serve_asgi(receiver) as receiver_port:
        sim = create_simulator(app_secret=APP_SECRET, access_token=TOKEN, seed=seed, status_delays=status_delays,
                               webhook_url=f"http://127.0.0.1:{receiver_port}/webhook")
        async with serve_asgi(sim) as sim_port, httpx.AsyncClient(timeout=timeout) as http:
            yield Loop(db, f"http://127.0.0.1:{receiver_port}", f"http://127.0.0.1:{sim_port}",
                       sim.state.world, http)
