"""Write a template notebook from a compact cell list (a convenience for authors; JupyterLab works
as well). Cells are stored without outputs and with stable formatting so diffs stay small.

Usage from Python::

    from scripts.new_template import write_template
    write_template("notebooks/templates/x.ipynb", [("md", "# Title"), ("params", "..."), ...])
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat


def write_template(path: str | Path, cells: list[tuple[str, str]]) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    for kind, source in cells:
        source = source.strip("\n")
        if kind == "md":
            cell = nbformat.v4.new_markdown_cell(source)
        else:
            cell = nbformat.v4.new_code_cell(source)
            if kind == "params":
                cell.metadata["tags"] = ["parameters"]
        cell.pop("id", None)
        nb.cells.append(cell)
    nb.nbformat_minor = 4
    nbformat.validate(nb)
    Path(path).write_text(nbformat.writes(nb) + "\n", encoding="utf-8")


if __name__ == "__main__":
    sys.exit("import write_template from this module")
