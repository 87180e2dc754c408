"""Sphinx configuration of nasdip's manual (``make docs``: warnings are errors).

Sphinx rather than mkdocs: nasdip's docstrings use Sphinx roles (``:class:``, ``:func:``, ``:mod:``) and
Google-style sections, which autodoc and napoleon render as links and fields as written; pages are Markdown
(MyST). The theme (furo) ships its own CSS and scripts and uses system fonts: nothing is fetched at build or view
time.
"""

from __future__ import annotations

import nasdip

project = "nasdip"
author = "the nasdip developers"
release = version = nasdip.__version__
copyright = "2026, the nasdip developers"

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx_click",
]
source_suffix = {".md": "markdown"}
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3
exclude_patterns = ["_build", "conf.py"]

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_format = "short"
autodoc_default_options = {"members": True, "show-inheritance": True}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_ivar = True

html_theme = "furo"
html_title = f"nasdip {release}"
html_static_path = ["_static"]
html_css_files = ["nasdip.css"]
html_theme_options = {"navigation_with_keys": True}
