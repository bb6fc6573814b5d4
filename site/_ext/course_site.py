"""Sphinx hooks of the course website (site/_config.yml loads this as a local extension).

sphinx-thebe (which Jupyter Book 1 always loads) adds its inline configuration script twice to every
page with current Sphinx, and the second `const THEBE_JS_URL` is a JavaScript error in every
reader's console: each page gets each script once.
"""

from __future__ import annotations


def _once(app, pagename, templatename, context, doctree) -> None:
    seen, kept = set(), []
    for script in context.get("script_files", []):
        name = getattr(script, "filename", script) or ""  # an inline script: None or "", as it was added
        key = (str(name), tuple(sorted((k, str(v)) for k, v in getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            kept.append(script)
    context["script_files"] = kept


def setup(app):
    app.connect("html-page-context", _once, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
