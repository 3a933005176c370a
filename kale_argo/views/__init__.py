"""Turning data into text: tables, status, the live view of a run, graphs, the workspace plan.

The data layers (local, argo, cluster) return data; these functions render it for the CLI, for
``python SCRIPT`` and for notebooks alike. Nothing here talks to a cluster or runs a step.
"""
