"""The Docker image, checked without Docker (no daemon on the build machine): its build and its runtime.

The build stage's own steps are replayed: exactly the paths it COPYs, installed with its `pip
install --prefix`; the image holds none of the vendors' sandboxes (sandboxes/, a distribution of
its own). The installed package (not this checkout) then runs the daemon's database migration, and,
with the sandboxes installed beside it as `make demo` does, a sandbox demo with the dashboard: both
need every migration, template and entry point to have been packaged. The runtime stage is read
for what IT staff rely on.

The install runs with the pip of a throwaway virtual environment, never the one running the tests:
pip uninstalls a package it is about to install from the environment it runs in, and that was the
editable `billsync` of `.venv`, so `make demo` and `make bench` broke after `make test`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")


def stages() -> list[str]:
    """Each stage's text from its FROM line on (what stands before the first FROM is comments)."""
    return re.split(r"^FROM ", DOCKERFILE, flags=re.M)[1:]


def test_the_runtime_stage_runs_billsync_as_an_unprivileged_user_with_a_healthcheck() -> None:
    build, runtime = stages()
    assert " AS build" in build.splitlines()[0]
    user = re.search(r"^USER (\S+)", runtime, re.M)
    assert user and user[1] not in ("root", "0")
    assert re.search(r"^HEALTHCHECK .*\n?.*?/healthz", runtime, re.M)
    assert 'ENTRYPOINT ["billsync"]' in runtime
    assert re.search(r'^CMD \["run", "--config", "/etc/billsync/billsync.toml"', runtime, re.M)
    assert "STOPSIGNAL SIGTERM" in runtime
    assert "COPY --from=build /install /usr/local" in runtime
    settings = [line for line in runtime.splitlines() if re.match(r"(ENV|ARG) ", line)]
    # secrets come from mounted files or the environment, never the image
    assert not [line for line in settings if re.search(r"SECRET|TOKEN|PASSWORD", line, re.I)]


def environment_snapshot() -> tuple[bytes | None, str, list[str]]:
    """What `make demo` relies on in the environment running the tests (`.venv` under make).

    Its `billsync` script, its packages as pip lists them (editable location included), and
    every name in its site-packages (an uninstall removes the editable finder and dist-info)."""
    script = Path(sys.prefix) / "bin" / "billsync"
    listed = subprocess.run(
        [sys.executable, "-m", "pip", "list", "--format=json", "--disable-pip-version-check"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    site = next(Path(sys.prefix).glob("lib/python3*/site-packages"))
    names = sorted(p.name for p in site.iterdir() if p.name != "__pycache__")  # bytecode may appear meanwhile
    return (script.read_bytes() if script.exists() else None, listed, names)


def test_the_build_stage_packages_everything_the_daemon_needs(tmp_path: Path) -> None:
    build = stages()[0]
    context = tmp_path / "src"
    context.mkdir()
    for sources, _target in re.findall(r"^COPY (?!--from)(.+?) (\S+)$", build, re.M):
        for source in sources.split():
            origin = ROOT / source
            if origin.is_dir():
                shutil.copytree(origin, context / source, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy2(origin, context / source)
    before = environment_snapshot()
    builder = tmp_path / "builder"  # the image's build stage has its own Python; so does this replay
    subprocess.run([sys.executable, "-m", "venv", str(builder)], check=True, capture_output=True, timeout=120)
    prefix = tmp_path / "install"
    pip = [builder / "bin" / "python", "-m", "pip", "install", "--quiet", "--no-cache-dir", "--no-deps"]
    installed = subprocess.run(
        [*pip, f"--prefix={prefix}", "."], cwd=context, capture_output=True, text=True, timeout=300, check=False
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    assert environment_snapshot() == before  # the environment running the tests is as it was
    site = next(prefix.glob("lib/python3*/site-packages"))
    assert not [p.name for p in site.iterdir() if p.name.lower().startswith(("billsync_sandboxes", "sandboxes"))]
    env = {**os.environ, "PYTHONPATH": str(site), "COLUMNS": "200"}
    work = tmp_path / "run"
    work.mkdir()
    where = subprocess.run(
        [sys.executable, "-c", "import core; print(core.__file__)"], cwd=work, env=env, capture_output=True, text=True
    )
    assert where.stdout.startswith(str(site)), where.stdout + where.stderr  # the installed copy, not the checkout
    cli = [sys.executable, "-c", "from core.cli import main; main()"]
    config = work / "billsync.toml"
    config.write_text(f'database_url = "sqlite:///{work / "b.db"}"\n[firms.acme]\nname = "Acme"\n')
    upgrade = subprocess.run(
        [*cli, "db", "upgrade", "--config", str(config)], cwd=work, env=env, capture_output=True, text=True, timeout=120
    )
    assert upgrade.returncode == 0, upgrade.stdout + upgrade.stderr
    copied = tmp_path / "sandboxes"  # built from a copy: pip writes its build files beside the sources
    shutil.copytree(ROOT / "sandboxes", copied, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "build"))
    added = subprocess.run(
        [*pip, f"--prefix={prefix}", "."], cwd=copied, capture_output=True, text=True, timeout=300, check=False
    )
    assert added.returncode == 0, added.stdout + added.stderr
    demo = subprocess.run(
        [*cli, "demo", "--activities", "200", "--keep", str(work / "demo")],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    assert (work / "demo" / "dashboard.html").stat().st_size > 100_000  # templates and plotly.js were packaged
