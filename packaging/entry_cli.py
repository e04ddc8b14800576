"""PyInstaller entry script for the `tokenwatch` executable (the command line)."""

import sys

from tokenwatch_desktop.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
