import sys

from vectorfin.cli import main

sys.exit(main())
