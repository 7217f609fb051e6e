"""``python -m jobs``: the driver entry point (same as ``jobs/main.py``)."""
import os
import sys

from jobs.main import main

code = main()
sys.stdout.flush()
sys.stderr.flush()
os._exit(code)
