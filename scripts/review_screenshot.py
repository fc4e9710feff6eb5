"""Regenerate the README's picture of the Tuesday review: the demo's review as
`ffkpi review --demo --format png` renders it (the page's top: the headline, the three
sentences, the seven KPIs and the MRR chart), written to docs/review.png.

Usage: uv run python scripts/review_screenshot.py  (needs a chromium: see the README)
"""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PICTURE = ROOT / "docs" / "review.png"


def main() -> None:
    command = ["ffkpi", "review", "--demo", "--format", "png", "--output", str(PICTURE)]
    done = subprocess.run(command, cwd=ROOT, check=False)
    sys.exit(done.returncode)


if __name__ == "__main__":
    main()
