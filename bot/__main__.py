import sys

from bot.cli import main

if __name__ == "__main__":  # not when a forkserver worker imports the main module
    sys.exit(main())
