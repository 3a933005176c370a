"""Third-party marshal codecs: register_codec and the kale_argo.marshal_codecs entry points."""

from __future__ import annotations

import json
import sys
import textwrap

import pytest

from kale_argo.runtime import marshal
from kale_argo.runtime.marshal import codec as registry


class Point:
    def __init__(self, x: int, y: int) -> None:
        self.x, self.y = x, y


class PointCodec(marshal.Codec):
    name = "point"
    suffix = ".point"

    def claims(self, value):
        return isinstance(value, Point)

    def dump(self, value, out):
        out.write(json.dumps([value.x, value.y]).encode())
        return {"dims": 2}

    def loads(self, data, meta):
        return Point(*json.loads(bytes(data)))


def test_register_codec(tmp_path):
    marshal.register_codec(PointCodec)
    try:
        meta = marshal.save(str(tmp_path), "p", Point(1, 2))
        assert meta["codec"] == "point" and meta["dims"] == 2 and meta["file"] == "p.point"
        loaded = marshal.load(str(tmp_path), "p")
        assert (loaded.x, loaded.y) == (1, 2)
    finally:
        marshal.unregister_codec("point")
    assert marshal.save(str(tmp_path), "q", Point(1, 2))["codec"] == "pickle"


PLUGIN = '''
import json
from kale_argo.runtime.marshal import Codec

class Celsius(float):
    pass

class CelsiusCodec(Codec):
    name = "celsius"
    suffix = ".degc"

    def claims(self, value):
        return isinstance(value, Celsius)

    def dump(self, value, out):
        out.write(repr(float(value)).encode())
        return {}

    def loads(self, data, meta):
        return Celsius(bytes(data).decode())
'''


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    site = tmp_path / "site"
    (site / "degc_plugin-1.0.dist-info").mkdir(parents=True)
    (site / "degc_plugin.py").write_text(textwrap.dedent(PLUGIN))
    (site / "degc_plugin-1.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: degc-plugin\nVersion: 1.0\n")
    (site / "degc_plugin-1.0.dist-info" / "entry_points.txt").write_text(
        "[kale_argo.marshal_codecs]\ncelsius = degc_plugin:CelsiusCodec\n")
    monkeypatch.syspath_prepend(str(site))
    marshal.reset_entry_points()
    yield
    marshal.reset_entry_points()


def test_entry_point_codec_saves_and_loads(tmp_path, plugin):
    import degc_plugin

    data = tmp_path / "m"
    meta = marshal.save(str(data), "t", degc_plugin.Celsius(21.5))
    assert meta["codec"] == "celsius" and (data / "t.degc").read_text() == "21.5"
    marshal.reset_entry_points()  # a fresh process: the plug-in is found from the file's codec
    loaded = marshal.load(str(data), "t")
    assert isinstance(loaded, degc_plugin.Celsius) and loaded == 21.5


def test_entry_points_not_read_when_a_builtin_claims(tmp_path, plugin, monkeypatch):
    import numpy as np

    def boom():
        raise AssertionError("entry points read")

    monkeypatch.setattr(registry, "entry_point_codecs", boom)
    marshal.save(str(tmp_path), "a", np.zeros(2))
    assert marshal.load(str(tmp_path), "a").shape == (2,)


def test_entry_points_not_read_for_builtin_stdlib_or_script_types(tmp_path, monkeypatch):
    import datetime
    import types

    def boom():
        raise AssertionError("entry points read")

    monkeypatch.setattr(registry, "entry_point_codecs", boom)
    script = types.ModuleType("user_script")
    script.__kale_script__ = True
    exec("class Thing:\n    pass\n", script.__dict__)
    monkeypatch.setitem(sys.modules, "user_script", script)
    for value in ({"a": 1}, datetime.date(2024, 1, 1), script.Thing()):
        assert registry.codec_for_value(value).name == "pickle"
    with pytest.raises(AssertionError, match="entry points read"):
        registry.codec_for_value(Point(1, 2))  # a third-party type: plug-ins may claim it
