"""Webhook notifications: a JSON POST to each of an environment's `notify` URLs when a run
ends (message.py: what is said; deliver.py: how it is sent, in the background)."""

from shipway.notify.deliver import Notifier, default_notifier
from shipway.notify.message import NOTIFIED_STATES, run_message

__all__ = ["NOTIFIED_STATES", "Notifier", "default_notifier", "run_message"]
