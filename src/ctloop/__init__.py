"""ctloop: continuous training for Azure Machine Learning, runnable locally."""

__version__ = "0.1.0"
