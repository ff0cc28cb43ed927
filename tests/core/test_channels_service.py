"""`wabox serve`'s channel health refresh, against the simulator: quality and tier land in the channel table."""

from __future__ import annotations

import asyncio

from core.config import ChannelConfig, Config, Secret, Secrets
from core.service import background_tasks, run_health_refresh
from core.store import Store
from tests.core.sim_helpers import NUMBER_A, TOKEN, WABA, running_loop


async def test_serve_refreshes_each_numbers_health_from_the_graph_api(tmp_path, db_target):
    async with running_loop(tmp_path, db=db_target) as loop:
        config = Config(path=None, db=loop.db, graph_url=loop.graph_url,
                        channels=(ChannelConfig("Ogrody A", WABA, NUMBER_A, "48221234567"),))
        secrets = Secrets(access_token=Secret(TOKEN))
        jobs = background_tasks(config, secrets, loop.db)
        assert len(jobs) == 4  # sender, template sync, health refresh, media download retries
        for job in jobs:
            job.close()  # only counted here
        task = asyncio.create_task(run_health_refresh(config, secrets, loop.db))
        store = await Store.open(loop.db)
        try:
            for _ in range(250):
                row = await store.fetchone("SELECT quality_rating, health, updated_at FROM channel"
                                           " WHERE phone_number_id = ?", (NUMBER_A,))
                if row["quality_rating"]:
                    break
                await asyncio.sleep(0.02)
            assert row["quality_rating"] in ("GREEN", "YELLOW", "RED") and row["health"] == "ok"
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await store.close()
