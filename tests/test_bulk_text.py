"""The bulk text writer (tokcost/render/bulk.py) writes exactly what Python writes value by value: floats as
``"%.6g" % x`` (CSV) and as ``repr`` of x rounded to 6 significant digits (JSON), ties, powers of ten, zeros,
infinities and extreme magnitudes included; labels, whole numbers and booleans through their tables."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tokcost.render import bulk
from tokcost.render.sweep import CSV_STYLE, JSON_STYLE

EDGES = [
    0.0, -0.0, 1.0, -1.0, 0.5, 0.1, 0.3, 1 / 3, 2 / 3, 1e-4, 9.99995e-5, 1e-5, 123456.5, 1234565.0, 999999.5,
    999999.4, 9999995.0, 9.999995, 99999.95, 1e15, 1e16, 1e22, 1e-17, 1e-18, 1e27, 1e28, 1e300, 1e-300, 5e-324,
    2.0**-1074, 1.7976931348623157e308, 0.000123456, 123456789.0, 0.1 + 0.2,
]  # fmt: skip


def _python(values, style) -> list[str]:
    if style is JSON_STYLE:
        values = bulk.round_sig(np.asarray(values, dtype=float)).tolist()
        return ["null" if v != v else json.dumps(v) for v in values]
    return ["" if v != v else f"{v:.6g}" for v in values]


def _bulk(values, style) -> list[str]:
    field = bulk.Field(np.asarray(values, dtype=float), "float", after="\n")
    return b"".join(bulk.lines([field], style)).decode().split("\n")[:-1]


@pytest.mark.parametrize("style", [CSV_STYLE, JSON_STYLE], ids=["csv", "json"])
def test_floats_are_written_as_python_writes_them(style):
    rng = np.random.default_rng(7)
    values = np.concatenate(
        [
            EDGES,
            [-v for v in EDGES],
            [np.nan],
            rng.lognormal(0.0, 8.0, 20_000) * rng.choice([-1.0, 1.0], 20_000),
            np.round(rng.lognormal(0.0, 3.0, 5_000), 3),  # short decimals: trailing zeros to strip
            rng.integers(0, 10**8, 5_000).astype(float),
        ]
    )
    assert _bulk(values, style) == _python(values, style)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(allow_infinity=False), min_size=1, max_size=50))
def test_any_finite_floats(values):
    for style in (CSV_STYLE, JSON_STYLE):
        assert _bulk(values, style) == _python(values, style)


def test_infinity_is_inf_in_csv_and_refused_in_json():
    assert _bulk([np.inf, -np.inf], CSV_STYLE) == ["inf", "-inf"]
    with pytest.raises(ValueError, match="not JSON compliant"):
        _bulk([np.inf], JSON_STYLE)


def test_labels_numbers_and_booleans_with_their_separators():
    fields = [
        bulk.Field(np.array(["a", "a", 'say "hi"', "a"], dtype=object), "text", after=","),
        bulk.Field(np.array([1.0, np.nan, 1e7, 3.0]), "int", after=","),
        bulk.Field(np.array([True, False, False, True]), "bool", after="\n"),
    ]
    text = b"".join(bulk.lines(fields, CSV_STYLE)).decode()
    assert text == 'a,1,true\na,,false\n"say ""hi""",10000000,false\na,3,true\n'


def test_many_slices_give_the_rows_in_order(monkeypatch):
    monkeypatch.setattr(bulk, "SLICE_ROWS", 7)
    values = np.arange(100, dtype=float) * 1.5
    assert _bulk(values, CSV_STYLE) == _python(values, CSV_STYLE)


def test_whole_numbers_in_long_runs_and_short_ones():
    runs = np.repeat([np.nan, 5.0, 12.0, np.nan], 40)  # a sweep's slow axis: formatted once per run
    steps = np.tile([1.0, 2.0, np.nan, 300.0], 40)  # its fastest axis: formatted once per value
    for values in (runs, steps):
        text = b"".join(bulk.lines([bulk.Field(values, "int", after="\n")], CSV_STYLE)).decode()
        assert text.split("\n")[:-1] == ["" if v != v else str(int(v)) for v in values.tolist()]


@pytest.mark.parametrize("style", [CSV_STYLE, JSON_STYLE], ids=["csv", "json"])
def test_floats_in_long_runs_are_written_once_per_run_as_python_writes_them(style):
    # a sweep's memory column: one value per block of rows; 0.0 and -0.0 are equal but written differently
    values = np.repeat([0.0, -0.0, np.nan, 8.7422, 1e-300, 0.0, 123456.5, np.nan, 1 / 3], 40)
    assert np.count_nonzero(bulk._changes(values, "float")) * 16 <= len(values)  # the run path
    assert _bulk(values, style) == _python(values, style)


def test_columns_in_joint_runs_are_written_as_python_writes_each_row():
    # a sweep's slow axes change together, in long runs: written once per joint run, as one table
    runs = np.repeat(np.arange(12), 80)  # long enough to be copied run by run
    fields = [
        bulk.Field(np.array(["a", 'say "hi"', "a,b"], dtype=object)[runs % 3], "text", after=","),
        bulk.Field(np.array([1.0, np.nan, 1e7, 3.0])[runs % 4], "int", after=","),
        bulk.Field(np.array([0.0, -0.0, 8.7422, np.nan, 1 / 3, 2.5])[runs % 6], "float", after=","),
        bulk.Field(np.array([True, False])[runs % 2], "bool", after="\n"),
    ]
    assert np.count_nonzero(bulk._changes(fields[0].values, "text")) * 16 <= len(runs)  # the run path
    text = b"".join(bulk.lines(fields, CSV_STYLE)).decode()
    expected = []
    for i in range(len(runs)):
        label = fields[0].values[i]
        label = '"' + label.replace('"', '""') + '"' if any(c in label for c in ',"') else label
        whole = fields[1].values[i]
        number = "" if whole != whole else str(int(whole))
        real = fields[2].values[i]
        expected.append(f"{label},{number},{'' if real != real else f'{real:.6g}'},{str(fields[3].values[i]).lower()}")
    assert text.split("\n")[:-1] == expected


def test_a_nul_character_is_refused_not_dropped():
    with pytest.raises(ValueError, match="NUL"):
        b"".join(bulk.lines([bulk.Field(np.array(["a\0b"], dtype=object), "text")], CSV_STYLE))
