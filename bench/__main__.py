"""`python -m bench`: run every benchmark, print the table, write the JSON figures."""

import sys

from bench.run import main

if __name__ == "__main__":
    sys.exit(main())
