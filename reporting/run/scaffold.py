"""``reporting init DIR``: a team's own reporting project, from the skeleton in ``project_skeleton/``.

The skeleton (shipped inside the package) holds a plan (``params/team_pack.yaml``), one example
template (``templates/team_kpis.ipynb``), a ``data/`` folder and a short README. Because the new
folder has ``params/*.yaml``, commands run in it (or below it) treat it as the project folder
(:func:`reporting.core.paths.project_dir`): its templates come before the built-in ones, its plans
are found by name, its ``data/`` is the default data and outputs go to its ``outputs/``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from reporting.core.errors import ProjectExists

SKELETON = Path(__file__).resolve().parent / "project_skeleton"


def skeleton_files() -> list[Path]:
    """The skeleton's files, relative to it."""
    return sorted(p.relative_to(SKELETON) for p in SKELETON.rglob("*")
                  if p.is_file() and "__pycache__" not in p.parts)


def init_project(folder: str | Path) -> list[Path]:
    """Write the skeleton into ``folder`` (created if needed) and return the files written.

    Raises
    ------
    ProjectExists
        A file of the skeleton is already in ``folder`` (nothing is written, nothing overwritten).
    """
    folder = Path(folder).resolve()
    files = skeleton_files()
    clashes = [str(folder / f) for f in files if (folder / f).exists()]
    if clashes:
        raise ProjectExists(f"{folder} already has {', '.join(clashes)}: choose an empty or new "
                            "folder (reporting init never overwrites)")
    written = []
    for rel in files:
        target = folder / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SKELETON / rel, target)
        written.append(target)
    (folder / "outputs").mkdir(exist_ok=True)
    return written
