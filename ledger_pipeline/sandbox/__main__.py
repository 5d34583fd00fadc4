import sys

from ledger_pipeline.sandbox.launcher import main

sys.exit(main())
