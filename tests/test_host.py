"""The host CPU (issue 16 item 2): eager decoding is launch-bound, so it runs as fast as the server's CPU; the
hardware presets name their typical server's CPU with a sourced single-thread speed and --host overrides it."""

import json

import pytest
from typer.testing import CliRunner

from tokcost.cli.app import app
from tokcost.engine.estimate import Config, estimate_arrays, host_speed
from tokcost.engine.profiles import efficiency
from tokcost.io.catalog import Catalog
from tokcost.io.engines import load_engines

CAT = Catalog.default()
ENGINES = load_engines()


def latency(model, hardware, **kw):
    cfg = Config(model=CAT.model(model), hardware=CAT.hardware(hardware), profiles=ENGINES, **kw)
    return float(estimate_arrays(cfg).latency_s)


def test_the_host_terms_divide_by_the_host_speed_and_nothing_else_does():
    hw = CAT.hardware("a100-80gb-sxm")
    for engine in ("eager", "compiled", "vllm"):
        one = efficiency(ENGINES[engine], hw, "central")
        two = efficiency(ENGINES[engine], hw, "central", host_speed=2.0)
        for term in (
            "host_per_layer_s",
            "fixed_per_step_s",
            "request_fixed_s",
            "denoise_step_s",
            "host_per_collective_s",
            "host_per_sequence_s",
        ):
            assert getattr(two, term) == pytest.approx(getattr(one, term) / 2.0)
        for term in ("mfu", "mbu", "attention_mfu", "act_scale", "vae_efficiency"):
            assert getattr(two, term) == getattr(one, term)


def test_eager_emu3_is_faster_on_an_h100_server_for_its_cpu():
    # host-bound: the DGX H100's Xeon 8480C launches the same kernels 1.23x as fast as the DGX A100's EPYC 7742
    hw = CAT.hardware("h100-sxm")
    assert hw.host is not None and "8480C" in hw.host.cpu and hw.host.single_thread > 1.0
    on_its_host = latency("emu3-gen", "h100-sxm")
    on_a100_host = latency("emu3-gen", "h100-sxm", host_speed=1.0)
    assert on_its_host < latency("emu3-gen", "a100-80gb-sxm")
    assert on_a100_host / on_its_host == pytest.approx(hw.host.single_thread, rel=0.05)
    # a GPU-bound diffusion step barely notices the host
    video = dict(width=1280, height=720, frames=129)
    ratio = latency("hunyuanvideo", "h100-sxm", host_speed=1.0, **video) / latency("hunyuanvideo", "h100-sxm", **video)
    assert 1.0 <= ratio < 1.01


def test_a_preset_without_a_known_server_is_priced_as_the_reference_host():
    hw = CAT.hardware("mi325x")
    assert hw.host is None
    assert host_speed(hw) == 1.0 and host_speed(hw, 1.5) == 1.5


@pytest.mark.parametrize("hw", [h for h in CAT.all("hardware") if h.host is not None], ids=lambda h: h.id)
def test_every_named_host_is_sourced(hw):
    assert hw.sources.get("host", "").count("single_thread") >= 1 and "cpu:" in hw.sources["host"]


def test_cli_host_overrides_and_reports_the_speed_used():
    runner = CliRunner()
    base = ["estimate", "--model", "emu3-gen", "--hardware", "h100-sxm", "--format", "json"]
    default = json.loads(runner.invoke(app, base).stdout)
    slow = json.loads(runner.invoke(app, [*base, "--host", "1.0"]).stdout)
    assert default["host_speed"] == CAT.hardware("h100-sxm").host.single_thread and slow["host_speed"] == 1.0
    assert slow["latency_s"] > default["latency_s"]
    bad = runner.invoke(app, [*base, "--host", "0"])
    assert bad.exit_code == 2 and "--host" in bad.output and "Traceback" not in bad.output


@pytest.mark.parametrize("hw", CAT.all("hardware"), ids=lambda h: h.id)
def test_every_preset_names_its_host_or_says_why_not(hw):
    # issue 27 item 6: a preset either names its typical host with a sourced speed or says in its notes why it has none
    if hw.host is None:
        assert "Host not set" in hw.notes and "no " in hw.notes.split("Host not set", 1)[1].lower(), hw.id
    else:
        assert hw.host.cpu and "host" in hw.sources


def test_geforce_workstations_are_faster_single_threaded_than_every_server_host():
    # desktop CPUs boost higher than many-core server parts of their generation (docs/methodology.md, "The host")
    hosts = {h.id: h.host.single_thread for h in CAT.all("hardware") if h.host is not None}
    geforce = {k: v for k, v in hosts.items() if k.startswith("rtx-")}
    servers = {k: v for k, v in hosts.items() if not k.startswith("rtx-")}
    assert set(geforce) >= {"rtx-3090", "rtx-4090"}
    assert min(geforce.values()) > max(servers.values())
    # a 2020 workstation (Comet Lake / Zen 3) is slower than a 2022 one (Raptor Lake / Zen 4)
    assert hosts["rtx-3090"] < hosts["rtx-4090"]


def test_eager_host_time_is_charged_per_counted_kernel_launch():
    """PyTorch eager launches every op from Python: a layer's host time is its counted launches x one launch, the
    unit being LlamaGen's decoder layer (63, counted by hand); engines that replay CUDA graphs keep the per-layer
    figure; a model's count comes with its source."""
    from tokcost.engine.physics import REFERENCE_LAUNCHES, host_scale

    hw = CAT.hardware("a100-80gb-sxm")
    eager, compiled, vllm = (efficiency(ENGINES[e], hw, "central") for e in ("eager", "compiled", "vllm"))
    assert REFERENCE_LAUNCHES == 63
    assert CAT.model("llamagen-xl").launches_per_layer.eager == REFERENCE_LAUNCHES
    assert float(host_scale(CAT.model("llamagen-xl"), eager)) == 1.0
    counted = 0
    for model in CAT.all("models"):
        launches = model.launches_per_layer
        if launches is None:  # no count: the reference layer's launches (MAR prices its kernels one by one)
            assert model.family in ("ar", "hybrid") and not model.generation.elementwise, model.id
            assert host_scale(model, eager) == 1.0, model.id
            continue
        counted += 1
        assert launches.eager > 0 and launches.counted and "launches_per_layer" in model.sources, model.id
        assert float(host_scale(model, eager)) == pytest.approx(launches.eager / REFERENCE_LAUNCHES), model.id
        assert float(host_scale(model, compiled)) == float(host_scale(model, vllm)) == 1.0, model.id
    assert counted >= 20  # every denoiser, LlamaGen's five, the Llama-style transformers decoders
    # an SD 1.5 UNet layer (a resnet or a transformer block) launches far fewer kernels than a decoder layer
    sd15, flux = CAT.model("sd15").launches_per_layer.eager, CAT.model("flux1-dev").launches_per_layer.eager
    assert sd15 < 0.5 * REFERENCE_LAUNCHES < flux


def test_a_layer_that_launches_fewer_kernels_waits_less_on_the_host():
    """Same model and chip, the eager host term scaled by the layer's launches: host-bound SD 1.5 at batch 1 gets
    faster when its layer is charged its own ~22 launches instead of the reference layer's 63."""
    from dataclasses import replace

    model = CAT.model("sd15")
    as_reference = model.model_copy(
        update={"launches_per_layer": model.launches_per_layer.model_copy(update={"eager": 63.0})}
    )
    hw = CAT.hardware("a100-80gb-sxm")
    own = Config(model=model, hardware=hw, profiles=ENGINES, engine="eager")
    ref = replace(own, model=as_reference)
    assert float(estimate_arrays(own).latency_s) < float(estimate_arrays(ref).latency_s)
    compiled = replace(own, engine="compiled")
    assert float(estimate_arrays(compiled).latency_s) == float(
        estimate_arrays(replace(ref, engine="compiled")).latency_s
    )


def test_the_notes_say_what_a_layer_costs_the_host_and_where_the_count_is_from():
    from tokcost.engine.estimate import pricing_note

    model = CAT.model("sd15")
    eager = pricing_note(Config(model=model, hardware=CAT.hardware("h100-sxm"), profiles=ENGINES, engine="eager"))
    launches = f"{model.launches_per_layer.eager:.3g} kernel launches per layer"
    assert launches in eager and "UNet2DConditionModel" in eager.split("host:")[1]
    compiled = pricing_note(Config(model=model, hardware=CAT.hardware("h100-sxm"), profiles=ENGINES, engine="compiled"))
    assert "host:" not in compiled
