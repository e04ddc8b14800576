"""PyInstaller entry script for the `tokenwatch-desktop` executable (the tray app)."""

import sys

from tokenwatch_desktop.app import main

if __name__ == "__main__":
    sys.exit(main())
