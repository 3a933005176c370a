"""A local module next to e2e_workspace.py: steps must import it as the notebook did."""


def tag(text: str) -> str:
    return f"<{text}>"
