"""Replay a time-ordered dataset through the loop and compare the trigger policy with baselines."""
