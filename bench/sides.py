"""Side by side: the same benchmark against this tree and against a base commit, in one run.

``base_tree(commit)`` checks the base commit out as a detached ``git worktree`` under
``bench/.base-<shortsha>`` (git-ignored; reused by later runs). The bot process of either side
is this tree's ``bench/botproc.py`` (so both are measured the same way) importing the bot code
(``bot``, ``cogs``, ``db``) from the side's tree: ``BENCH_CODE_ROOT`` puts that tree first on
the bot process's ``sys.path`` and makes it the working directory. The side's own migrations
migrate its scratch database (``scratch_database(..., code_root=...)``).

A benchmark adds ``--base COMMIT`` / ``--no-base`` (``add_arguments``), runs its measurement
once per ``sides(args)`` entry, one after another on fresh scratch databases, and prints
``compare(...)``: both sides and their ratio.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.common import ROOT, Target, table

BASE_COMMIT = "b2f6855"  # main before issue #19 ("Speed")
CODE_ROOT_ENV = "BENCH_CODE_ROOT"


def _git(*args: str, cwd: Path = ROOT) -> str:
    return subprocess.run(
        ["git", *args], cwd=str(cwd), check=True, capture_output=True, text=True
    ).stdout.strip()


def base_tree(commit: str = BASE_COMMIT) -> Path:
    """A detached worktree of ``commit`` under ``bench/.base-<shortsha>``, created once and
    reused while it is still at that commit."""
    sha = _git("rev-parse", "--verify", f"{commit}^{{commit}}")
    path = ROOT / "bench" / f".base-{sha[:10]}"
    if path.exists():
        try:
            if _git("rev-parse", "HEAD", cwd=path) == sha:
                return path
        except subprocess.CalledProcessError:
            pass
        _git("worktree", "remove", "--force", str(path))
    _git("worktree", "prune")
    _git("worktree", "add", "--detach", "--force", str(path), sha)
    return path


@dataclass(frozen=True)
class Side:
    """One side of a comparison: a name, the tree its bot code comes from, its commit."""

    name: str  # "this", "base" or "floor"
    root: Path
    commit: str
    bot_module: str = "bench.botproc"
    """The process run as the bot: ``bench.botproc`` (the bot), or ``bench.barecreate``."""

    @property
    def code_root(self) -> Path | None:
        """None for this tree (the bot imports from here as before)."""
        return None if self.root == ROOT else self.root


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--base",
        default=BASE_COMMIT,
        metavar="COMMIT",
        help=f"measure this commit too, side by side (default {BASE_COMMIT})",
    )
    parser.add_argument(
        "--no-base", action="store_true", help="measure this tree only, no side by side"
    )


def this_commit() -> str:
    """This tree's commit, with '+' when it has uncommitted changes to tracked files."""
    sha = _git("rev-parse", "--short=10", "HEAD")
    dirty = _git("status", "--porcelain", "--untracked-files=no")
    return sha + ("+" if dirty else "")


def sides(args: argparse.Namespace) -> list[Side]:
    """This tree first, then (unless ``--no-base``) the base commit's worktree."""
    out = [Side("this", ROOT, this_commit())]
    if not args.no_base:
        root = base_tree(args.base)
        out.append(Side("base", root, _git("rev-parse", "--short=10", "HEAD", cwd=root)))
    return out


def floor_side() -> Side:
    """The floor: ``bench.barecreate``, the least a create must do on the bot's libraries."""
    return Side("floor", ROOT, "bench.barecreate", bot_module="bench.barecreate")


def code_root_env(code_root: Path | None) -> dict[str, str]:
    """The environment that makes ``bench.botproc`` import the bot from ``code_root``."""
    return {CODE_ROOT_ENV: str(code_root)} if code_root is not None else {}


def use_code_root() -> None:
    """In the bot process, before the bot is imported: take ``bot``, ``cogs``, ``db`` (and
    ``migrations``) from ``BENCH_CODE_ROOT`` when it is set. ``bench`` itself is already
    imported from this tree, so the measuring stays the same."""
    root = os.environ.get(CODE_ROOT_ENV)
    if not root:
        return
    for name in list(sys.modules):
        if name.split(".")[0] in ("bot", "cogs", "db", "migrations"):
            raise RuntimeError(f"{name} was imported before {CODE_ROOT_ENV} took effect")
    sys.path.insert(0, root)
    os.chdir(root)


def migrate_in(code_root: Path, database_url: str) -> None:
    """Migrate ``database_url`` to head with ``code_root``'s own migrations (a subprocess)."""
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]); "
        "from db.migrate import upgrade; upgrade(sys.argv[2])"
    )
    subprocess.run(
        [sys.executable, "-c", script, str(code_root), database_url],
        cwd=str(code_root),
        check=True,
    )


def ratio(this: float, base: float) -> float:
    if math.isnan(this) or math.isnan(base) or base == 0:
        return math.nan
    return this / base


def compare(title: str, rows: Sequence[tuple[str, float, float]], fmt: str = "{:.2f}") -> str:
    """A table of (metric, this side, base side) with this/base."""

    def cell(v: float) -> str:
        return "-" if math.isnan(v) else fmt.format(v)

    return table(
        [title, "this", "base", "this/base"],
        [[name, cell(a), cell(b), cell(ratio(a, b))] for name, a, b in rows],
    )


def ratio_target(name: str, this: float, base: float, limit: float) -> Target:
    """``this / base <= limit``, both sides' figures in the name."""
    return Target(f"{name} ({this:.3g} this / {base:.3g} base)", ratio(this, base), limit, "×")
