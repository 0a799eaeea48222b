"""The continuous-training loop: one turn is monitor -> check triggers -> training pipeline -> deploy."""
