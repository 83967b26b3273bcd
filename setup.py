"""Build hook: ship the built-in templates and plans inside the package.

``notebooks/templates/*.ipynb`` and ``params/*.yaml`` stay the authoring home (one copy in git);
when a wheel is built they are copied into ``reporting/_builtin/templates`` and
``reporting/_builtin/params`` of the build, where ``reporting.core.paths`` finds them once the
package is installed anywhere. Everything else is declared in pyproject.toml.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
BUILTIN = {"templates": ("notebooks/templates", "*.ipynb"), "params": ("params", "*.yaml")}


class BuildPyWithBuiltins(build_py):
    """``build_py`` that also copies the authoring folders into ``reporting/_builtin``."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:  # an editable install reads the authoring folders directly
            return
        for name, (source, pattern) in BUILTIN.items():
            files = sorted((HERE / source).glob(pattern))
            if not files:
                raise SystemExit(f"build: no {pattern} in {HERE / source}: the sdist or checkout "
                                 "is incomplete (see MANIFEST.in)")
            target = Path(self.build_lib) / "reporting" / "_builtin" / name
            target.mkdir(parents=True, exist_ok=True)
            for path in files:
                shutil.copyfile(path, target / path.name)


setup(cmdclass={"build_py": BuildPyWithBuiltins})
