"""The sending commands as a person runs them, against the simulator over loopback:
wabox connect, channels, templates --sync, send (refused, queued, --wait)."""

from __future__ import annotations

import asyncio
import json
import os
import sys

import pytest

from core.outbox import Sender
from core.store import Store
from tests.core.sim_helpers import NUMBER_A, NUMBER_B, TOKEN, WABA, running_loop


async def wabox(*argv: str, env: dict[str, str]) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "import sys; from app.cli import main; sys.exit(main())", *argv,
        env={**os.environ, **env}, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), timeout=30)
    return process.returncode, out.decode(), err.decode()


@pytest.mark.slow
async def test_connect_then_channels_then_templates_then_send(tmp_path, db_target):
    async with running_loop(tmp_path, db=tmp_path / "simulated.db") as loop:  # the CLI's own database starts empty
        config = tmp_path / "cfg" / "config.toml"
        config.parent.mkdir()
        config.write_text("# ours\n[limits]\nmonthly_quota = 1000\n")
        env = {"WABOX_CONFIG": str(config), "WABOX_DB": str(db_target), "WABOX_GRAPH_URL": loop.graph_url,
               "WABOX_ACCESS_TOKEN": TOKEN, "USER": "kasia"}

        code, out, err = await wabox("connect", "--waba-id", WABA, "--phone-number-id", NUMBER_A, env=env)
        assert code == 0, err
        assert f"connected {NUMBER_A}" in out and "[[channels]]" in config.read_text() and "# ours" in config.read_text()
        code, out, err = await wabox("connect", "--waba-id", WABA, "--phone-number-id", NUMBER_A, env=env)
        assert code == 1 and f"{NUMBER_A} is already connected" in err
        code, out, err = await wabox("connect", "--waba-id", WABA, "--phone-number-id", "999", env=env)
        assert code == 1 and "999 is not a phone number of WABA" in err

        code, out, _ = await wabox("channels", "--json", env=env)
        [channel] = json.loads(out)
        assert (channel["phone_number_id"], channel["token"], channel["backlog"]) == (NUMBER_A, "ok", 0)
        assert channel["quality_rating"] and channel["messaging_limit_tier"]

        code, out, err = await wabox("templates", "--sync", "--json", env=env)
        assert code == 0, err
        names = {(t["name"], t["language"], t["status"]) for t in json.loads(out)}
        assert ("order_update", "pl_PL", "APPROVED") in names

        # No conversation yet: free-form text is refused before it leaves, and nothing is queued.
        code, out, err = await wabox("send", "--from", NUMBER_A, "--to", "+48 601 234 567", "--text", "Halo", env=env)
        assert code == 1 and "only an approved template can start a conversation" in err and out == ""
        code, out, err = await wabox("send", "--from", NUMBER_A, "--to", "+48601234567", "--template", "nope",
                                     "--lang", "pl_PL", env=env)
        assert code == 1 and "No template 'nope' in pl_PL" in err

        # F30: the customer never opted in: a business-initiated template is refused unless forced.
        code, out, err = await wabox("send", "--from", NUMBER_A, "--to", "+48601234567", "--template",
                                     "order_update", "--lang", "pl_PL", "--param", "Anna", "--param", "A-1043", env=env)
        assert code == 1 and "has no WhatsApp opt-in" in err and "--force" in err and out == ""

        store = await Store.open(db_target)
        assert await store.scalar("SELECT count(*) FROM outbox") == 0
        sender = asyncio.create_task(Sender(store, loop.api(), owner="serve").run(idle=0.02))
        try:
            code, out, err = await wabox("send", "--from", NUMBER_A, "--to", "+48601234567", "--template",
                                         "order_update", "--lang", "pl_PL", "--param", "Anna", "--param", "A-1043",
                                         "--force", "--wait", env=env)
            assert code == 0, err
            outbox_id, result = out.splitlines()
            assert result.startswith("sent wamid.")
            row = await store.fetchone("SELECT o.state, m.author, m.text FROM outbox o JOIN message m"
                                       " ON m.id = o.message_id WHERE o.id = ?", (int(outbox_id),))
            assert tuple(row) == ("sent", "kasia", "Cześć Anna, Twoje zamówienie A-1043 jest gotowe do odbioru.")
            [sent] = await loop.outbound()
            assert sent["body"]["biz_opaque_callback_data"] == f"outbox:{outbox_id}"
        finally:
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)
            await store.close()


@pytest.mark.slow
async def test_send_wait_exits_non_zero_when_meta_refuses(tmp_path, db_target):
    async with running_loop(tmp_path, db=db_target) as loop:
        await loop.inbound(phone_number_id=NUMBER_B, **{"from": "48512345678"}, text="Halo")
        store = await Store.open(loop.db)
        for _ in range(200):
            if await store.scalar("SELECT count(*) FROM thread"):
                break
            await asyncio.sleep(0.02)
        # The simulator thinks the window is closed (as if our clock lied): Meta's 131047 comes back verbatim.
        await loop.http.post(f"{loop.sim_url}/_sim/window", json={"phone_number_id": NUMBER_B,
                                                                   "wa_id": "48512345678", "at": 0})
        env = {"WABOX_CONFIG": str(tmp_path / "none.toml"), "WABOX_DB": str(loop.db)}
        (tmp_path / "none.toml").write_text("")
        sender = asyncio.create_task(Sender(store, loop.api(), owner="serve").run(idle=0.02))
        try:
            code, out, err = await wabox("send", "--from", NUMBER_B, "--to", "48512345678", "--text", "Odpowiedź",
                                         "--wait", env=env)
        finally:
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)
            await store.close()
        assert code == 1
        assert out.splitlines()[1].startswith("failed (131047) (#131047) Re-engagement message")
