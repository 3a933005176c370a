"""Which statements of a kernel's cells a pipeline's module keeps (no kernel needed: the cells as text)."""

from __future__ import annotations

from kale_argo.sdk.cells import Selection, select, statements
from kale_argo.sdk.notebook import cell_to_python


def module_of(cells: list[str], seeds: set[str], known: frozenset[str] = frozenset(),
              ) -> tuple[str, Selection]:
    items = [s for i, src in enumerate(cells) for s in statements(f"In[{i + 1}]", i + 1, src)]
    selection = select(items, seeds, lambda name: name in known)
    return selection.render("test"), selection


def test_the_last_definition_wins_and_a_value_keeps_the_steps_that_built_it() -> None:
    source, selection = module_of([
        "import sys\nimport json\nsys.path.insert(0, 'lib')\nprint('exploring')",
        "LIMIT = 1\nLIMIT += 1\nunused = json.dumps({})",
        "def helper():\n    return LIMIT\n\ndef helper():\n    return LIMIT * 2",
        "class Box:\n    size = LIMIT\n    def area(self):\n        return helper()",
        "def pipe():\n    return Box().area()\n\npipe()",
    ], {"pipe"})
    assert "return LIMIT * 2" in source and "return LIMIT\n" not in source  # re-run cells replace
    assert source.index("LIMIT = 1") < source.index("LIMIT += 1") < source.index("class Box")
    assert "sys.path.insert(0, 'lib')" in source  # setup calls into imported modules are kept
    assert "unused" not in source and "exploring" not in source and "\npipe()" not in source
    assert "import json" not in source
    assert selection.describe() == ("In[1] (sys, sys.path.insert(0, 'lib')); In[2] (LIMIT); In[3] (helper); "
                                    "In[4] (Box); In[5] (pipe)")


def test_magics_are_not_shipped_and_unknown_names_are_reported() -> None:
    source, selection = module_of([
        "files = get_ipython().getoutput('ls')",
        "def kernel():\n    return get_ipython()",
        "def pipe():\n    return files, from_run, kernel",
    ], {"pipe"}, known=frozenset({"from_run"}))
    assert "def kernel" in source  # it would call IPython only when called
    assert selection.skipped == ["In[1] defines 'files' with an IPython magic or shell escape, which a step "
                                 "cannot run: not shipped"]
    assert selection.missing == ["from_run"]


def test_ipython_syntax_becomes_pass_with_a_note() -> None:
    notes: list[str] = []
    cell = "%pip install x\nfiles = !ls\nrate = 10 % 3\nif rate:\n    !echo hi\nnp.mean?"
    code = cell_to_python(cell, "cell 1", notes)
    assert code == ("pass  # kale-argo skipped: %pip install x\npass  # kale-argo skipped: files = !ls\n"
                    "rate = 10 % 3\nif rate:\n    pass  # kale-argo skipped: !echo hi\n"
                    "pass  # kale-argo skipped: np.mean?\n")
    assert len(notes) == 4
    assert notes[0] == "cell 1 line 1: skipped '%pip install x' (IPython magic or shell escape)"
    assert cell_to_python("%%bash\necho hi", "cell 2", notes) == ""
    assert cell_to_python("%%time\nx = 1", "cell 3", notes) == "pass  # %%time\nx = 1\n"


def test_a_cell_is_parsed_once_however_often_the_history_is_read() -> None:
    # a kernel's history is read at each run and before it: an unchanged cell is not parsed again
    cell = "import json\n\ndef helper(x):\n    return json.dumps(x)"
    first, again = statements("In[1]", 1, cell), statements("In[1]", 1, cell)
    assert first == again and all(a is b for a, b in zip(first, again, strict=True))
    changed = statements("In[1]", 1, cell.replace("json.dumps(x)", "json.dumps([x])"))
    assert changed[1].source != first[1].source  # a cell run again with new text is read anew
    relabelled = statements("In[2]", 2, cell)
    assert [s.cell for s in relabelled] == ["In[2]", "In[2]"] and relabelled[0] is not first[0]
    assert first[0].binds == {"json"} and first[1].later == {"json"}
