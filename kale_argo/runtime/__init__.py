"""What runs inside a step: standard library only (numpy, pandas, pyarrow, dill lazily, per value).

Never import hera, kubernetes or pydantic from here: every pod and local step pays for it.

- :mod:`.contract` — the step command (``step_argv`` / ``parse_argv``), shared by every executor.
- :mod:`.step` and ``python -m kale_argo.runtime`` — run one step; exit 0, 1 (user code), 2 (input).
- :mod:`.supervise` — the step command's parent process: fails a step that ended without its
  outputs, ends what the step left running (a subreaper), passes SIGTERM on.
- :mod:`.record` — the per-step record ``<marshal_dir>/.kale/steps/<step>.json``.
- :mod:`.marshal` — values by variable name: save, load, describe, list_values, verify, codecs;
  :mod:`.marshal.binding` — the run's id and key (``KALE_ARGO_RUN_ID``, ``KALE_ARGO_MARSHAL_KEY_FILE``).
- :mod:`.script` — import the user's script under a stable module name.
- :mod:`.params` — pipeline parameter conversion (shared with the IR).
"""
