"""`pip install .` installs the bot and nothing else.

The wheel is built from a copy of the repository, offline and without build isolation (the
venv's pinned setuptools), and listed: no local Bot API server, no sandbox, no Bot API spec; every
module of bot/ and the data files it reads at run time. templates/ and migrations/ are found
beside bot/ in the checkout the bot runs from (`make install` installs it editable), not in the
wheel."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOOLS = {"botapi", "sandbox"}
NOT_SOURCE = shutil.ignore_patterns(
    ".*", "var", "build", "dist", "*.egg-info", "__pycache__", "test-artifacts", "out"
)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[zipfile.ZipFile]:
    """The wheel `pip wheel` builds from the repository as it is now."""
    work = tmp_path_factory.mktemp("wheel")
    source = shutil.copytree(ROOT, work / "source", ignore=NOT_SOURCE)
    options = ["--quiet", "--no-deps", "--no-index", "--no-build-isolation"]
    command = [sys.executable, "-m", "pip", "wheel", *options, "-w", str(work), str(source)]
    built = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
    hint = "\n(an old venv? `make install` brings the pinned setuptools)"
    assert built.returncode == 0, built.stderr[-3000:] + hint
    [path] = work.glob("*.whl")
    with zipfile.ZipFile(path) as archive:
        yield archive


def test_the_wheel_holds_no_bot_api_server_no_sandbox_and_no_spec(wheel):
    names = wheel.namelist()
    tools = [name for name in names if TOOLS & set(name.split("/")[:2]) or "bot-api" in name]
    assert tools == []
    assert {name.split("/")[0] for name in names if ".dist-info/" not in name} == {"bot"}


def test_the_wheel_holds_every_module_of_the_bot_and_the_data_it_reads(wheel):
    package = ROOT / "bot"
    needed = {p.relative_to(ROOT).as_posix() for p in package.rglob("*.py")}
    needed |= {p.relative_to(ROOT).as_posix() for p in (package / "data").glob("*.csv")}
    assert "bot/data/wilayah_3505.csv" in needed
    assert sorted(needed - set(wheel.namelist())) == []


def test_the_wheel_installs_the_command(wheel):
    [entry_points] = [n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt")]
    scripts = wheel.read(entry_points).decode()
    assert "dukcapil-bot = bot.cli:main" in scripts


def test_the_bot_imports_no_tool():
    """What the wheel leaves out is never needed: no module of bot/ imports botapi or sandbox."""
    offenders = []
    for path in (ROOT / "bot").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            else:
                continue
            offenders += [
                f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] in TOOLS
            ]
    assert offenders == []
