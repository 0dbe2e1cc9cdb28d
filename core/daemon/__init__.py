"""The daemon behind `billsync run`: scheduled jobs per firm and a graceful stop."""

from __future__ import annotations

from core.daemon.scheduler import Daemon, Intervals
from core.daemon.shutdown import install_signal_handlers

__all__ = ["Daemon", "Intervals", "install_signal_handlers"]
