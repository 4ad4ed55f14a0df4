"""The CodePipeline export: the template that runs an environment's pipeline on AWS
CodePipeline (V2) + CodeBuild, with the local engine's meaning (codepipeline.py)."""

from shipway.export.codepipeline import SOURCES, ExportOptions, pipeline_template

__all__ = ["SOURCES", "ExportOptions", "pipeline_template"]
