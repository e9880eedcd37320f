"""The container image of docs/deploy.md: it builds, starts and answers ``/readyz``.

Needs a container daemon; where none answers (this project's CI machines have the docker client but no
daemon), the test says so and skips. What the image installs (`pip install -c requirements.lock
'.[serve]'`, no torch) is what docs/deploy.md's systemd setup installs too.
"""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def _daemon() -> str | None:
    """Why there is no usable container daemon, or None when there is one."""
    docker = shutil.which("docker")
    if docker is None:
        return "no docker client on this machine"
    probe = subprocess.run([docker, "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"no container daemon answers `docker info` ({probe.stderr.strip().splitlines()[-1:]})"
    return None


def test_dockerfile_names_only_files_the_build_context_keeps() -> None:
    """Every COPY source exists and is let through .dockerignore (a cheap check that runs everywhere)."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    ignore = (ROOT / ".dockerignore").read_text().split()
    sources = [line.split()[1:-1] for line in dockerfile.splitlines() if line.startswith("COPY ")]
    for source in (s for group in sources for s in group):
        assert (ROOT / source).exists(), source
        assert f"!{source.rstrip('/')}/" in ignore or f"!{source}" in ignore, f"{source} is ignored"


def test_the_image_builds_and_becomes_ready() -> None:
    why = _daemon()
    if why is not None:
        pytest.skip(f"container image not checked: {why}")
    tag = f"signals-test:{uuid.uuid4().hex[:8]}"
    subprocess.run(["docker", "build", "-t", tag, str(ROOT)], check=True, timeout=1800)
    container = subprocess.run(
        ["docker", "run", "-d", "--rm", "-p", "127.0.0.1::8000", tag],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    try:
        port = (
            subprocess.run(
                ["docker", "port", container, "8000/tcp"], capture_output=True, text=True, check=True
            )
            .stdout.split(":")[-1]
            .strip()
        )
        deadline = time.monotonic() + 180
        status = None
        while time.monotonic() < deadline:
            try:
                status = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code
                if status == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(1)
        assert status == 200, subprocess.run(
            ["docker", "logs", container], capture_output=True, text=True
        ).stdout
    finally:
        subprocess.run(["docker", "rm", "-f", container], capture_output=True)
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True)
