"""Where things are, wherever the package is installed.

Three places matter:

- **the built-in templates and plans**: in a source checkout, the authoring folders
  ``notebooks/templates/`` and ``params/``; in an installed wheel, their copies inside the package
  (``reporting/_builtin/templates``, ``reporting/_builtin/params``), put there at build time by
  ``setup.py`` (never committed twice);
- **the project folder**: the folder a team works in (``reporting init DIR`` makes one). It is
  the nearest folder, from the current one upwards, that holds a ``params/`` folder with a plan
  (``*.yaml``); without one, the current folder. Its ``templates/`` are found before the built-in
  ones, its ``params/`` before the built-in plans, and outputs and demo data go to its
  ``outputs/`` (never into site-packages);
- the variables of :mod:`reporting.core.settings`, which override the above.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1]
# The folder holding pyproject.toml when the code runs from a checkout (editable install, or
# PYTHONPATH); in an installed wheel this is site-packages, which is never a project.
SOURCE_ROOT = PACKAGE_DIR.parent
BUILTIN_DIR = PACKAGE_DIR / "_builtin"


def source_checkout() -> bool:
    """True when the code runs from a source checkout (the authoring folders are next to it)."""
    return (SOURCE_ROOT / "pyproject.toml").is_file() and (
        SOURCE_ROOT / "notebooks" / "templates").is_dir()


def builtin_templates() -> Path:
    """The folder of the built-in templates (``notebooks/templates`` or the packaged copy)."""
    if source_checkout():
        return SOURCE_ROOT / "notebooks" / "templates"
    return BUILTIN_DIR / "templates"


def builtin_plans() -> Path:
    """The folder of the built-in plans (``params/`` or the packaged copy)."""
    if source_checkout():
        return SOURCE_ROOT / "params"
    return BUILTIN_DIR / "params"


def _is_project(folder: Path) -> bool:
    params = folder / "params"
    return params.is_dir() and any(params.glob("*.yaml"))


def project_dir(start: Path | None = None) -> Path:
    """The project folder: the nearest of ``start`` (default: the current folder) and its parents
    with a ``params/*.yaml`` plan, else ``start`` itself. Report kernels run in a folder under
    ``outputs/`` and JupyterLab runs a template in ``templates/``: both find their project."""
    try:
        here = (start or Path.cwd()).resolve()
    except OSError:  # the current folder was removed under us (a finished job's staging folder)
        return Path.home()
    for folder in (here, *here.parents):
        if _is_project(folder):
            return folder
    return here
