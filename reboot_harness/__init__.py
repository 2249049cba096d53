"""reboot-harness: rehearse host reboots of a containerised replica of your stack."""

__version__ = "0.1.0"
