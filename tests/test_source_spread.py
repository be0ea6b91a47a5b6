"""scripts/source_spread.py: how far apart sources are on runs whose every stated field is the same, the floor under
any model's error against a new source (docs/validation.md, "How far apart the sources are")."""

import math

import pytest
from source_spread import HALF_NORMAL_MEDIAN, floor, source_of, spread_groups, summary

from tokcost.io.measurements import load_entries


@pytest.fixture(scope="module")
def run():
    """A real diffusion run of the set, to copy with other sources and figures."""
    return next(e for e in load_entries() if e.family == "diffusion-image" and e.hardware is not None)


def test_a_source_is_its_citations_first_two_words():
    assert source_of("huggingface/diffusers docs/source/en/optimization/fp16.md, table") == (
        "huggingface/diffusers docs/source/en/optimization/fp16.md"
    )
    assert source_of("MingXiangL/Teacache-xDiT README.md, 'Speed'") == source_of("MingXiangL/Teacache-xDiT README.md")


def test_groups_pair_the_sources_of_one_configuration(run):
    a = run.model_copy(update={"source": "alpha/repo README.md", "measured": 2.0})
    a2 = run.model_copy(update={"source": "alpha/repo README.md", "measured": 8.0})  # one source: geometric mean 4
    b = run.model_copy(update={"source": "beta/repo README.md", "measured": 1.0})
    (group,) = spread_groups([a, a2, b])
    assert group["figures"] == pytest.approx({"alpha/repo README.md": 4.0, "beta/repo README.md": 1.0})
    assert group["pairs"] == pytest.approx([math.log(4.0)])


def test_a_configuration_one_source_measured_or_another_condition_is_no_pair(run):
    a = run.model_copy(update={"source": "alpha/repo README.md", "measured": 2.0})
    a2 = run.model_copy(update={"source": "alpha/repo README.md", "measured": 3.0})
    other = run.conditions.model_copy(update={"batch": (run.conditions.batch or 1) + 1})
    b = run.model_copy(update={"source": "beta/repo README.md", "measured": 1.0, "conditions": other})
    assert spread_groups([a, a2, b]) == []


def test_the_floor_is_zero_for_agreeing_sources_and_grows_with_their_spread():
    assert floor(0.0) == (0.0, 0.0)
    sigma, err = floor(0.1)
    # half-normal: median |ln(a/b)| = 0.6745 sigma sqrt(2); a model at the truth is 0.6745 sigma (in ln) from a source
    assert sigma == pytest.approx(0.1 / (HALF_NORMAL_MEDIAN * math.sqrt(2)))
    assert err == pytest.approx(math.exp(HALF_NORMAL_MEDIAN * sigma) - 1)
    assert floor(0.2)[1] > err


def test_the_summary_weighs_configurations_and_pairs():
    groups = [
        {"pairs": [0.1, 0.2, 0.3]},  # three sources of one configuration
        {"pairs": [0.5]},
    ]
    s = summary(groups)
    assert s["groups"] == 2 and s["pairs"] == 4
    assert s["median_abs_log_ratio_per_group"] == pytest.approx(0.35)  # medians 0.2 and 0.5
    assert s["median_abs_log_ratio_per_pair"] == pytest.approx(0.25)
    assert s["widest_factor"] == pytest.approx(math.exp(0.5))
