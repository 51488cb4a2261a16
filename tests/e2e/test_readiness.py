"""A wrong AMI secret is a configuration error, not a network blip: logged at ERROR naming the settings to fix,
and GET /status says the instance is not ready (and why) instead of POST /task quietly succeeding forever."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import httpx
import pytest

from autodialer.bootstrap import build_service
from autodialer.settings import load_settings
from autodialer.simulator import PBXSimulator, SimulatorConfig

pytestmark = pytest.mark.slow


async def status_of(secret: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> tuple[int, dict[str, object]]:
    async with PBXSimulator(SimulatorConfig(ami_port=0, username="autodialer", secret="right-secret")) as sim:
        settings = load_settings(
            environment="test",
            data_dir=tmp_path,
            ami_port=sim.ami_port,
            ami_username="autodialer",
            ami_secret=secret,
            fastagi_port=0,
        )
        service = await build_service(settings)
        assert service.dialer is not None
        await service.dialer.start()
        try:
            for _ in range(200):
                if service.dialer.ami.is_connected() or service.dialer.ami.last_error is not None:
                    break
                await asyncio.sleep(0.02)
            transport = httpx.ASGITransport(app=service.app, client=("127.0.0.1", 40000))
            async with httpx.AsyncClient(transport=transport, base_url="http://dialer") as http:
                reply = await http.get("/status")
        finally:
            await service.dialer.stop()
            await service.db.dispose()
    return reply.status_code, reply.json()


async def test_a_refused_login_is_an_error_naming_the_settings_and_not_ready(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="autodialer"):
        code, body = await status_of("wrong-secret", tmp_path, caplog)
    assert code == 503 and body["ready"] is False
    ami = body["ami"]
    assert isinstance(ami, dict) and ami["loginRefused"] is True and ami["loggedIn"] is False
    assert "AUTODIALER_AMI_SECRET" in str(ami["lastError"])
    errors = [r for r in caplog.records if r.levelno == logging.ERROR and "ami_client" in r.name]
    assert errors and "AUTODIALER_AMI_USERNAME and AUTODIALER_AMI_SECRET" in errors[0].getMessage()
    assert "right-secret" not in caplog.text and "wrong-secret" not in caplog.text


async def test_with_the_right_secret_the_instance_is_ready(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    code, body = await status_of("right-secret", tmp_path, caplog)
    assert code == 200 and body["ready"] is True
    ami = body["ami"]
    assert isinstance(ami, dict)
    assert (ami["loggedIn"], ami["state"], ami["lastError"], ami["loginRefused"]) == (True, "connected", None, False)
    assert body["fastagi"]["listening"] is True  # type: ignore[index]
