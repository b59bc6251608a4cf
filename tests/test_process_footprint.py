"""The long-running processes load only what they use: the migration machinery (Flask-Migrate,
Alembic, Mako, Pygments: about 11 MB in each process) belongs to the command line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("flask_migrate", "alembic", "mako", "pygments")


@pytest.mark.parametrize("module", ["inbox.wsgi", "workers.worker_app"])
def test_web_and_worker_processes_do_not_load_the_migration_tools(module, tmp_path) -> None:
    code = f"import sys, {module}; print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    env = {**os.environ, "SERVICETORG_INSTANCE_PATH": str(tmp_path)}
    env = {k: v for k, v in env.items() if k != "SERVICETORG_MODE"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == ""


def test_the_command_line_still_has_its_migration_commands(tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "SERVICETORG_MODE"}
    env["SERVICETORG_INSTANCE_PATH"] = str(tmp_path)
    cli = str(Path(sys.executable).parent / "servicetorg")
    for command in (["migrate", "--help"], ["db", "upgrade", "--help"]):
        out = subprocess.run([cli, *command], env=env, capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
