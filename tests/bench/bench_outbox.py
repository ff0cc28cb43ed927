"""Outbox throughput: queued replies → sender → simulator over loopback → status webhooks → receiver.

Target (issue 3): ≥ 80 msg/s per number sustained (Meta's default), limited by the configured rate, not by our
code. Prints, for the configured rate (80/s) and for an unthrottled run (our own ceiling on this machine):
messages/s accepted by the Graph API, messages/s with their `sent` status webhook stored, and queue time.

Everything runs in this one process and event loop — the simulator (one send request and three signed status
webhooks per message), the receiver (synchronous=FULL) and the sender — so the unthrottled figure is a floor on
what the sender alone can do, not its limit."""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections import Counter
from pathlib import Path

from core import sending
from core.outbox import Sender
from core.sending import SendingLimits
from core.store import Store
from tests.core.sim_helpers import NUMBER_A, running_loop

CUSTOMERS = 200
PER_CUSTOMER = 6  # 1,200 messages: 15 s at 80/s


async def _run(rate: float, messages_per_customer: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        async with running_loop(Path(tmp), status_delays=(0.01, 0.02, 0.03)) as loop:
            await loop.http.post(f"{loop.sim_url}/_sim/customers", json={"enabled": False})
            store = await Store.open(loop.db)
            try:
                now = loop.world.clock()
                threads = []
                for n in range(CUSTOMERS):
                    wa_id = f"4860{n:07d}"
                    await loop.http.post(f"{loop.sim_url}/_sim/window",
                                         json={"phone_number_id": NUMBER_A, "wa_id": wa_id, "at": now})
                    thread = await sending.thread_for_number(store, NUMBER_A, "+" + wa_id, now=now)
                    await store.write(lambda db, t=thread: db.execute(
                        "UPDATE thread SET last_inbound_at = ? WHERE id = ?", (int(now), t)))
                    threads.append(thread)
                limits = SendingLimits(monthly_quota=10**6)
                started = time.perf_counter()
                for round_ in range(messages_per_customer):
                    for thread in threads:
                        await sending.queue_text(store, thread, f"Odpowiedź {round_}", agent="bench", now=now,
                                                 config=limits)
                queued = time.perf_counter() - started
                total = CUSTOMERS * messages_per_customer

                sender = Sender(store, loop.api(), owner="bench", rate_per_second=rate, concurrency=8)
                watcher = await Store.open(loop.db)  # its own connection, as `wabox channels` would have
                started = time.perf_counter()
                task = asyncio.create_task(sender.run(idle=0.01))
                accepted_at = statused_at = None
                while statused_at is None:
                    await asyncio.sleep(0.05)
                    if accepted_at is None and not await watcher.scalar(
                            "SELECT count(*) FROM outbox WHERE state IN ('queued', 'sending')"):
                        accepted_at = time.perf_counter() - started
                    if accepted_at is not None and not await watcher.scalar(
                            "SELECT count(*) FROM message WHERE direction = 'out' AND status = 'queued'"):
                        statused_at = time.perf_counter() - started
                    if time.perf_counter() - started > 120:
                        raise RuntimeError("outbox bench did not finish in 120 s")
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
                await watcher.close()
                sends = Counter(o["body"].get("biz_opaque_callback_data") for o in await loop.outbound())
                duplicates = sum(n - 1 for n in sends.values())
                failed = await store.scalar("SELECT count(*) FROM message WHERE direction = 'out'"
                                            " AND status = 'failed'")
                return {"total": total, "failed": failed, "queue_per_s": total / queued, "accepted_per_s": total / accepted_at,
                        "statused_per_s": total / statused_at, "duplicates": duplicates}
            finally:
                await store.close()


def main() -> None:
    for label, rate, per_customer in (("configured 80 msg/s", 80.0, PER_CUSTOMER),
                                      ("unthrottled (our ceiling)", 100_000.0, PER_CUSTOMER)):
        result = asyncio.run(_run(rate, per_customer))
        print(f"{label:>26}: {result['total']:,} messages to {CUSTOMERS} customers on one number: "
              f"{result['accepted_per_s']:7.1f} msg/s accepted by the Graph API, "
              f"{result['statused_per_s']:7.1f} msg/s with the 'sent' webhook stored; "
              f"queueing {result['queue_per_s']:,.0f} msg/s; {result['duplicates']} duplicate sends; "
              f"{result['failed']} failed by the simulated network (131026)", flush=True)


if __name__ == "__main__":
    main()
