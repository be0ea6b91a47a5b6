"""Ring attention in a diffusion replica's sequence parallelism (docs/methodology.md, "Ring attention"): the
Ulysses all-to-alls among the GPUs of a ring position, a send and receive of K and V per further ring step after
the block's attention, at the link's send bandwidth, the fp32 merge, and the host's calls and launches."""

import json
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from tokcost.cli.app import app
from tokcost.core.validate import build_config
from tokcost.engine import physics
from tokcost.engine.collectives import Collectives
from tokcost.engine.estimate import Config, estimate_arrays, scale_up_link, scale_up_send
from tokcost.engine.families.diffusion import ring_degree
from tokcost.engine.profiles import efficiency
from tokcost.errors import UsageError
from tokcost.io.catalog import Catalog
from tokcost.io.engines import load_engines
from tokcost.io.kernel_tables import hardware_kernels
from tokcost.io.measurements import load_entries

CAT = Catalog.default()
ENGINES = load_engines()
FLUX = CAT.model("flux1-dev")
LAYERS = FLUX.denoiser.transformer_geometry()[1]


def run(model="flux1-dev", hardware="h100-sxm", **kw):
    cfg = Config(
        model=CAT.model(model), hardware=CAT.hardware(hardware), profiles=ENGINES, kernels=hardware_kernels, **kw
    )
    return estimate_arrays(cfg)


def latency(out):
    return float(np.asarray(out.latency_s).item())


def test_ring_of_one_is_ulysses_and_says_so_in_the_label():
    plain = run(gpus=8, parallelism="sp", steps=25)  # FLUX's 24 heads divide by 8: no ring by default
    assert latency(run(gpus=8, parallelism="sp", steps=25, ring=1)) == latency(plain)
    assert plain.parallelism == "sp"
    assert run(gpus=8, parallelism="sp", steps=25, ring=2).parallelism == "sp (ring 2)"
    assert run("sd3-medium", gpus=8, steps=25, ring=2).parallelism == "cfg+sp (ring 2)"


def test_calls_per_forward_count_the_all_to_alls_of_a_ring_position_and_each_further_ring_step():
    L = LAYERS
    assert physics.sequence_parallel_collectives(FLUX, 8) == 4 * L  # Ulysses alone
    assert physics.sequence_parallel_collectives(FLUX, 8, 2) == 4 * L + L  # 4 all-to-alls, one further step
    assert physics.sequence_parallel_collectives(FLUX, 8, 8) == 7 * L  # one ring: no all-to-all
    assert physics.sequence_parallel_collectives(FLUX, 1) == 0
    assert physics.sequence_parallel_collectives(CAT.model("sdxl"), 8, 2) == 0  # a UNet is not sequence-parallel


def test_all_to_alls_run_among_the_gpus_of_a_ring_position_and_a_ring_step_sends_k_and_v():
    link = (20e-6, 400e9)
    comm = Collectives(link)  # no tables: alpha-beta on the link, written out below
    _, L, D = FLUX.denoiser.transformer_geometry()
    S = 4096 + FLUX.denoiser.joint_text_tokens
    held = S / 8 * D * 2  # one item, a GPU's 1/8 of the sequence, 16 bits
    assert physics.sequence_parallel_comm_s(FLUX, 1, S, 8, comm, 2) == pytest.approx(
        4 * L * (link[0] + 3 / 4 * held / link[1])  # among the 4 Ulysses GPUs
    )
    assert physics.sequence_parallel_comm_s(FLUX, 1, S, 8, comm, 8) == 0.0
    assert physics.ring_send_s(FLUX, 1, S, 8, comm, 8) == pytest.approx(link[0] + 2 * held / link[1])
    assert physics.ring_send_s(FLUX, 1, S, 8, comm, 1) == 0.0


def test_every_further_steps_send_adds_to_the_step_after_its_blocks_attention():
    """NCCL's send kernels wait for the SMs the block's flash attention holds: each further step pays its send in
    full, however short or long against the attention."""
    e = efficiency(ENGINES["eager"], CAT.hardware("h100-sxm"))
    R, elems, BW = 4, 0.0, 3.35e12  # no merge traffic: the sends alone
    for send in (1e-6, 1e-3):
        sends, _, _ = physics._ring_steps_s(FLUX, e, R, send, elems, BW)
        assert sends == pytest.approx((R - 1) * LAYERS * send)


def test_a_rings_send_moves_at_the_presets_send_bandwidth_where_it_has_one():
    h100, a100 = CAT.hardware("h100-sxm"), CAT.hardware("a100-80gb-sxm")
    assert h100.scale_up.send_gbps < h100.scale_up.busbw_gbps  # one send between two GPUs: nccl-tests sendrecv_perf
    assert a100.scale_up.send_gbps is None  # none sourced: the bus bandwidth
    held = 1e8
    for hw, rate in ((h100, h100.scale_up.send_gbps), (a100, a100.scale_up.busbw_gbps)):
        comm = Collectives(scale_up_link(hw), send=scale_up_send(hw))
        assert comm.send_recv_s(held, 4) == pytest.approx(hw.scale_up.latency_us * 1e-6 + held / (rate * 1e9))
    # an estimate's ring prices its sends so: a compiled FLUX.1 at 2048 px on 4 H100s, whose step the GPU binds,
    # takes longer at the H100's send bandwidth than it would at the bus bandwidth
    setting = {
        "gpus": 4,
        "parallelism": "sp",
        "steps": 25,
        "ring": 4,
        "engine": "compiled",
        "width": 2048,
        "height": 2048,
    }
    fast = h100.model_copy(update={"scale_up": h100.scale_up.model_copy(update={"send_gbps": None})})
    at_busbw = estimate_arrays(Config(model=FLUX, hardware=fast, profiles=ENGINES, kernels=hardware_kernels, **setting))
    assert latency(run(**setting)) > latency(at_busbw)


def test_each_further_ring_step_costs_an_eager_host_three_launches_and_a_compiled_one_none():
    hw = CAT.hardware("h100-sxm")
    eager = efficiency(ENGINES["eager"], hw)
    compiled = efficiency(ENGINES["compiled"], hw)
    _, _, host = physics._ring_steps_s(FLUX, eager, 4, 0.0, 0.0, 3.35e12)
    per_launch = float(eager.host_per_layer_s) / physics.REFERENCE_LAUNCHES
    assert host == pytest.approx(3 * LAYERS * physics.RING_STEP_LAUNCHES * per_launch)
    assert physics._ring_steps_s(FLUX, compiled, 4, 0.0, 0.0, 3.35e12)[2] == 0.0


def test_the_merge_moves_ten_bytes_an_element_of_the_gpus_share_of_each_layer():
    e = replace(efficiency(ENGINES["compiled"], CAT.hardware("h100-sxm")), mbu=0.5)
    elems = 1e9  # a pass over all the blocks on this GPU
    _, merge, _ = physics._ring_steps_s(FLUX, e, 2, 0.0, elems, 2e12)
    assert merge == pytest.approx(LAYERS * 10.0 * elems / LAYERS / (2e12 * 0.5))


def test_eager_rings_cost_more_than_ulysses_where_the_ring_adds_calls():
    # 8 GPUs: a ring of 2 keeps the 4 all-to-alls and adds a step; the host pays for both
    ulysses = latency(run(gpus=8, parallelism="sp", steps=25))
    assert latency(run(gpus=8, parallelism="sp", steps=25, ring=2)) > ulysses


@pytest.mark.parametrize(
    "model,G,parallelism,ring,needle",
    [
        ("flux1-dev", 1, None, 2, "a ring of 2 GPUs needs a replica of at least 2 GPUs"),
        ("flux1-dev", 8, None, 3, "to divide into rings of 3"),
        ("emu3-gen", 2, None, 2, "ring attention splits a diffusion model's sequence"),
        ("sd15", 4, None, 2, "UNet"),
        ("cogvideox-2b", 8, "sp", 2, "4-way Ulysses sequence parallelism needs cogvideox-2b's 30 attention heads"),
        ("sana-1.6b", 4, "sp", 2, "linear attention"),
    ],
)
def test_impossible_rings_are_refused_with_a_reason(model, G, parallelism, ring, needle):
    with pytest.raises(UsageError) as err:
        run(model, gpus=G, parallelism=parallelism, ring=ring)
    assert needle in str(err.value)


def test_by_default_the_fewest_gpus_per_ring_let_the_heads_divide_over_the_rest():
    # Wan2.1-1.3B's 12 heads: Ulysses alone on 2 and 4 GPUs; on 8, Ulysses 4 x a ring of 2
    for G, label in ((2, "sp"), (4, "sp"), (8, "sp (ring 2)")):
        assert run("wan21-1.3b", gpus=G, parallelism="sp", frames=81, width=832, height=480).parallelism == label
    # a ring of 8, as Wan2.1's README runs it, when asked for
    asked = run("wan21-1.3b", gpus=8, parallelism="sp", frames=81, width=832, height=480, ring=8)
    assert asked.parallelism == "sp (ring 8)"
    # Ulysses alone, when asked for, is refused with the ring that would do
    with pytest.raises(UsageError, match="a ring degree of 2 would take the rest of the 8 GPUs"):
        run("wan21-1.3b", gpus=8, parallelism="sp", frames=81, width=832, height=480, ring=1)


def test_estimate_cli_takes_a_ring_degree_and_refuses_a_bad_one_with_exit_2():
    ok = CliRunner().invoke(
        app,
        [
            "estimate",
            "--model",
            "flux1-dev",
            "--hardware",
            "h100-sxm",
            "--gpus",
            "4",
            "--ring-degree",
            "2",
            "--format",
            "json",
        ],
    )
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output)["parallelism"] == "sp (ring 2)"
    bad = CliRunner().invoke(
        app, ["estimate", "--model", "flux1-dev", "--hardware", "h100-sxm", "--gpus", "4", "--ring-degree", "3"]
    )
    assert bad.exit_code == 2
    assert "rings of 3" in bad.output


def test_validation_entries_with_a_ring_are_priced_with_it():
    entries = {e.id: e for e in load_entries()}
    e = entries["flux1-dev-xdit-h100-4gpu-ring-eager"]
    assert e.conditions.ring_degree == 4
    cfg = build_config(e, CAT)
    assert cfg.ring == 4
    assert estimate_arrays(cfg).parallelism == "sp (ring 4)"


def test_a_rings_sends_count_in_its_communication():
    # a ring of 8 on an A10G server (PCIe): no all-to-all, yet the K and V shards cross the link
    out = run("flux1-dev", "a10g", gpus=8, parallelism="sp", ring=8, steps=4, width=512, height=512)
    assert out.parallelism == "sp (ring 8)"
    assert float(np.asarray(out.communication_s).item()) > 0.0


@given(heads=st.integers(1, 128), sp=st.sampled_from([2, 3, 4, 6, 8]))
def test_the_default_ring_is_the_fewest_gpus_that_let_the_heads_divide_over_the_rest(heads, sp):
    model = FLUX.model_copy(update={"denoiser": FLUX.denoiser.model_copy(update={"attention_heads": heads})})
    ring = ring_degree(model, sp)
    assert sp % ring == 0 and heads % (sp // ring) == 0
    assert all(sp % r or heads % (sp // r) for r in range(1, ring))  # no smaller ring would do
    assert (ring == 1) == (heads % sp == 0)
