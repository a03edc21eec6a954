"""Check that the built API reference documents every public name of ``taskflow``.

Run after ``mkdocs build`` (``make docs`` does): each name in ``taskflow.__all__`` must have an
anchor in ``site/reference/index.html``, under the module that defines it.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import taskflow

page = Path(sys.argv[1] if len(sys.argv) > 1 else "site") / "reference" / "index.html"
anchors = set(re.findall(r'id="(taskflow\.[\w.]+)"', page.read_text()))
missing = [
    name for name in taskflow.__all__ if not any(a.endswith(f".{name}") for a in anchors)
]
if missing:
    sys.exit(f"{page}: the API reference does not render {', '.join(missing)}")
print(f"{page}: every public name of taskflow is documented ({len(taskflow.__all__)})")
