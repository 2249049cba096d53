"""`python -m reboot_harness` is the same as the `reboot-harness` command."""

import sys

from reboot_harness.faces.cli import main

sys.exit(main())
