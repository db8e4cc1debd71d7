"""Where the project's own files live: the shipped configs and demo data.

They sit beside the `studio` package in a clone or an editable install. `STUDIO_PROJECT_DIR`
points elsewhere (for a wheel install, at a copy of the repository's `configs/` and `data/`).
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = Path(os.environ.get("STUDIO_PROJECT_DIR") or PACKAGE_DIR.parent).resolve()
CONFIGS_DIR = PROJECT_DIR / "configs"
DATA_DIR = PROJECT_DIR / "data"
