"""One compiler per event type, in the order the Framework runs them (lib/plugins/index.js).

An explicit registry: an event type not listed here is an error, never dropped.
"""

from __future__ import annotations

from collections.abc import Callable

from shipway.synth.context import Context
from shipway.synth.events.eventbridge import compile_eventbridge
from shipway.synth.events.http import compile_http
from shipway.synth.events.http_api import compile_http_api
from shipway.synth.events.s3 import compile_s3
from shipway.synth.events.schedule import compile_schedule
from shipway.synth.events.sns import compile_sns
from shipway.synth.events.sqs import compile_sqs
from shipway.synth.events.stream import compile_stream
from shipway.synth.events.websocket import compile_websocket

__all__ = ["COMPILERS", "SUPPORTED_EVENTS"]

Compiler = Callable[[Context], None]

#: event type -> compiler, in the Framework's plugin order
COMPILERS: dict[str, Compiler] = {
    "schedule": compile_schedule,
    "s3": compile_s3,
    "http": compile_http,
    "websocket": compile_websocket,
    "sns": compile_sns,
    "stream": compile_stream,
    "eventBridge": compile_eventbridge,
    "sqs": compile_sqs,
    "httpApi": compile_http_api,
}

SUPPORTED_EVENTS = frozenset(COMPILERS)
