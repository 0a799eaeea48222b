"""Everything that talks to Azure: workspace client, asset registration, pipeline submission,
schedules and the MLflow-on-Azure model registry.

Imported lazily (only by the commands and registry lookups that need Azure); ``registry`` needs
MLflow alone (it also runs inside Azure ML jobs), the others need azure-ai-ml and azure-identity.
"""
