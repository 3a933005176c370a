"""What runs inside a step: standard library and dill only (numpy, pandas... lazily).

Never import hera, kubernetes or pydantic from here: every pod and local step pays for it.
"""
