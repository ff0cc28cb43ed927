"""Outbox throughput: queued replies → sender → simulator over loopback → status webhooks → receiver.

Target (issue 3): ≥ 80 msg/s per number sustained (Meta's default), limited by the configured rate, not by our
code. Prints, for the configured rate (80/s) and for an unthrottled run (our own ceiling on this machine):
messages/s accepted by the Graph API, messages/s with their `sent` status webhook stored, and queue time.

Everything runs in this one process and event loop — the simulator (one send request and three signed status
webhooks per message), the receiver (synchronous=FULL) and the sender — so the unthrottled figure is a floor on
what the sender alone can do, not its limit."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

from core import sending
from core.outbox import Sender
from core.sending import SendingLimits
from core.store import Store
from tests.core.receiver_process import free_port
from tests.core.sim_helpers import NUMBER_A, WABA, running_loop

PROCESS_SECRETS = {"WABOX_APP_SECRET": "bench-app-secret", "WABOX_VERIFY_TOKEN": "bench-verify",
                   "WABOX_ACCESS_TOKEN": "bench-token"}

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


async def _run_processes(rate: float) -> dict[str, float]:
    """Production's shape: `wabox sim` (Meta) and `wabox serve` (receiver + sender) as their own processes."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        serve_port, sim_port = free_port(), free_port()
        config = tmp_path / "config.toml"
        config.write_text(f'db = "{tmp_path / "wabox.db"}"\n[limits]\nrate_per_second = {rate}\n'
                          f'monthly_quota = 1000000\n[meta]\ngraph_url = "http://127.0.0.1:{sim_port}/v23.0"\n'
                          f'[[channels]]\nname = "Bench"\nwaba_id = "{WABA}"\nphone_number_id = "{NUMBER_A}"\n'
                          f'display_phone_number = "48221234567"\n')
        env = {**os.environ, **PROCESS_SECRETS, "WABOX_CONFIG": str(config)}
        wabox = str(Path(sys.executable).with_name("wabox"))
        logs = (tmp_path / "sim.log").open("wb"), (tmp_path / "serve.log").open("wb")
        sim = subprocess.Popen([wabox, "sim", "--port", str(sim_port), "--webhook-url",
                                f"http://127.0.0.1:{serve_port}/webhook"], env=env, stdout=logs[0], stderr=logs[0])
        serve = subprocess.Popen([wabox, "serve", "--port", str(serve_port)], env=env, stdout=logs[1],
                                 stderr=logs[1])
        try:
            async with httpx.AsyncClient() as http:
                for url in (f"http://127.0.0.1:{serve_port}/healthz", f"http://127.0.0.1:{sim_port}/_sim/health"):
                    for _ in range(200):
                        try:
                            if (await http.get(url)).status_code == 200:
                                break
                        except httpx.HTTPError:
                            pass
                        await asyncio.sleep(0.1)
                store = await Store.open(tmp_path / "wabox.db")
                try:
                    now = time.time()
                    threads = []
                    for n in range(CUSTOMERS):
                        wa_id = f"4860{n:07d}"
                        await http.post(f"http://127.0.0.1:{sim_port}/_sim/window",
                                        json={"phone_number_id": NUMBER_A, "wa_id": wa_id, "at": now})
                        thread = await sending.thread_for_number(store, NUMBER_A, "+" + wa_id, now=now)
                        await store.write(lambda db, t=thread: db.execute(
                            "UPDATE thread SET last_inbound_at = ? WHERE id = ?", (int(now), t)))
                        threads.append(thread)
                    limits = SendingLimits(monthly_quota=10**6)
                    started = time.perf_counter()
                    for round_ in range(PER_CUSTOMER):
                        for thread in threads:
                            await sending.queue_text(store, thread, f"Odpowiedź {round_}", agent="bench", now=now,
                                                     config=limits)
                    total = CUSTOMERS * PER_CUSTOMER
                    accepted_at = statused_at = None
                    while statused_at is None:
                        await asyncio.sleep(0.05)
                        if accepted_at is None and not await store.scalar(
                                "SELECT count(*) FROM outbox WHERE state IN ('queued', 'sending')"):
                            accepted_at = time.perf_counter() - started
                        if accepted_at is not None and not await store.scalar(
                                "SELECT count(*) FROM message WHERE direction = 'out' AND status = 'queued'"):
                            statused_at = time.perf_counter() - started
                        if time.perf_counter() - started > 120:
                            states = [tuple(r) for r in await store.fetchall(
                                "SELECT o.state, m.status, count(*) FROM outbox o JOIN message m"
                                " ON m.id = o.message_id GROUP BY 1, 2")]
                            raise RuntimeError(f"outbox bench (processes) did not finish in 120 s: {states}")
                    sent = (await http.get(f"http://127.0.0.1:{sim_port}/_sim/outbound")).json()
                    sends = Counter(o["body"].get("biz_opaque_callback_data") for o in sent)
                    failed = await store.scalar("SELECT count(*) FROM message WHERE direction = 'out'"
                                                " AND status = 'failed'")
                    return {"total": total, "failed": failed, "queue_per_s": float("nan"),
                            "accepted_per_s": total / accepted_at, "statused_per_s": total / statused_at,
                            "duplicates": sum(n - 1 for n in sends.values())}
                finally:
                    await store.close()
        finally:
            for process in (serve, sim):
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            for log in logs:
                log.close()


def _print(label: str, result: dict[str, float]) -> None:
    queueing = f"queueing {result['queue_per_s']:,.0f} msg/s; " if result["queue_per_s"] == result["queue_per_s"] else ""
    print(f"{label:>44}: {result['total']:,} messages to {CUSTOMERS} customers on one number: "
          f"{result['accepted_per_s']:6.1f} msg/s accepted by the Graph API, "
          f"{result['statused_per_s']:6.1f} msg/s with the 'sent' webhook stored; {queueing}"
          f"{result['duplicates']} duplicate sends; {result['failed']} failed by the simulated network (131026)",
          flush=True)


def main() -> None:
    for label, rate in (("one process, configured 80 msg/s", 80.0), ("one process, unthrottled", 100_000.0)):
        _print(label, asyncio.run(_run(rate, PER_CUSTOMER)))
    # Production's shape. (Unthrottled, this once stalled: the simulator queued thousands of webhooks in httpx's
    # pool, which costs O(n^2); the simulator now sends at most 32 at a time.)
    for label, rate in (("wabox serve + wabox sim, configured 80 msg/s", 80.0),
                        ("wabox serve + wabox sim, unthrottled", 100_000.0)):
        _print(label, asyncio.run(_run_processes(rate)))


if __name__ == "__main__":
    main()
