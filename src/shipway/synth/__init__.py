"""ServiceDefinition -> CloudFormation template, as the Serverless Framework v3 makes it. Pure."""

from shipway.synth.events import SUPPORTED_EVENTS
from shipway.synth.template import plugin_warnings, stack_name, synthesize

__all__ = ["SUPPORTED_EVENTS", "plugin_warnings", "stack_name", "synthesize"]
