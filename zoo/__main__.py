import sys

from zoo.tuning.cli import main

sys.exit(main())
