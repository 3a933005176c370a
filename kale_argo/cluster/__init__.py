"""Runs on a cluster: the Argo Server and Kubernetes API backends, watching, logs, and the
workspace (notebook volumes snapshotted, cloned or mounted into a run).

This layer receives compiled Workflows (it never imports the compiler) and returns data. Heavy
clients (kubernetes, hera, requests) are imported only when a backend is made.
"""
