"""The measurement grid: for every batch size and context length, a prefill to that context, then decode steps
at that context with batched CFG (one forward of 2 x batch sequences) and unbatched CFG (two forwards of batch
sequences, the way Emu3's reference code runs), each step sampling a real token that is fed back.

Each part of a step is timed on its own (the layer stack, the output head, the CFG mix + sampling) so that a run
with ``--layers N`` extrapolates honestly to the full depth. Every point writes its KV entry at the same position
``context`` (the step of the cost model at context t), so repeats measure the same work. Warm-up steps are
excluded; the reported time of each part is the median over the repeats. The head is timed on
``head_repeats`` of the steps (it depends on the number of sequences only, not the context), which keeps a
184,622-token head affordable on a CPU.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from tokcost.bench.decoder import Decoder, cfg_mix, sample_top_k
from tokcost.bench.timing import Clock, median, sync


@dataclass(frozen=True)
class GridOptions:
    batches: tuple[int, ...]
    contexts: tuple[int, ...]
    repeats: int
    head_repeats: int
    prefill_repeats: int
    warmup: int
    cfg_scale: float
    temperature: float
    top_k: int
    seed: int = 0

    @property
    def units(self) -> int:
        """Progress units: a prefill and two decode modes per (batch, context) cell."""
        return 3 * len(self.batches) * len(self.contexts)


def is_oom(exc: BaseException) -> bool:
    oom = getattr(torch.cuda, "OutOfMemoryError", None)
    text = str(exc).lower()  # a CPU allocation failure is a plain RuntimeError from the allocator
    return (oom is not None and isinstance(exc, oom)) or "out of memory" in text or "can't allocate memory" in text


class _Runner:
    def __init__(self, dec: Decoder, opts: GridOptions):
        self.dec, self.opts = dec, opts
        self.gen = torch.Generator(device=dec.device).manual_seed(opts.seed)
        self.clock = Clock(dec.device)
        self.warm: set = set()

    def _sample(self, cond, uncond):
        return sample_top_k(
            cfg_mix(cond, uncond, self.opts.cfg_scale), self.opts.temperature, self.opts.top_k, self.gen
        )

    def prefill(self, b: int, t: int) -> tuple[float, torch.Tensor]:
        dec = self.dec
        prompt = torch.randint(0, dec.shape.vocab, (2 * b, t), device=dec.device, generator=self.gen)
        times, token, cold = [], None, b not in self.warm
        for _ in range(self.opts.prefill_repeats + (1 if cold else 0)):
            self.clock.mark()
            x = dec.layers(dec.embed(prompt), 0, slice(0, 2 * b))
            self.clock.mark()
            logits = dec.logits(x)
            token = self._sample(logits[:b], logits[b:])
            times += self.clock.intervals()
        self.warm.add(b)
        return median(times[1:] if cold else times), token

    def decode(self, b: int, t: int, token: torch.Tensor, batched: bool) -> dict:
        key = (b, batched)
        if key not in self.warm:  # one full untimed step per (batch, mode): the head and sampler warm up too
            token, _ = self._step(b, t, token, batched, full=True)
            self.warm.add(key)
        for _ in range(self.opts.warmup):
            self._step(b, t, token, batched, full=False)
        sync(self.dec.device)
        layers, heads, samples = [], [], []
        for i in range(self.opts.repeats):
            full = i < self.opts.head_repeats
            token, parts = self._step(b, t, token, batched, full)
            layers.append(parts[0])
            if full:
                heads.append(parts[1])
                samples.append(parts[2])
        out = {"layers_s": median(layers), "head_s": median(heads), "sample_s": median(samples)}
        out["step_s"] = out["layers_s"] + out["head_s"] + out["sample_s"]
        return out

    def _step(self, b: int, t: int, token, batched: bool, full: bool):
        """One decode step at position ``t``; returns the next token and (layers, head, sample) seconds."""
        dec, c = self.dec, self.clock
        if batched:
            c.mark()
            x = dec.layers(dec.embed(torch.cat([token, token]))[:, None], t, slice(0, 2 * b))
            c.mark()
            if not full:
                return token, (c.intervals()[0], 0.0, 0.0)
            logits = dec.logits(x)
            c.mark()
            token = self._sample(logits[:b], logits[b:])
            c.mark()
            lay, head, samp = c.intervals()
            return token, (lay, head, samp)
        e = dec.embed(token)[:, None]
        c.mark()
        xc = dec.layers(e, t, slice(0, b))
        c.mark()
        lc = dec.logits(xc) if full else None
        c.mark()
        xu = dec.layers(e, t, slice(b, 2 * b))
        c.mark()
        if not full:
            i = c.intervals()
            return token, (i[0] + i[2], 0.0, 0.0)
        lu = dec.logits(xu)
        c.mark()
        token = self._sample(lc, lu)
        c.mark()
        i = c.intervals()
        return token, (i[0] + i[2], i[1] + i[3], i[4])


def run_grid(dec: Decoder, opts: GridOptions, advance: Callable[[], None] = lambda: None) -> list[dict]:
    """Measure every grid point; a point that runs out of device memory is recorded with ``skipped``."""
    runner = _Runner(dec, opts)
    points: list[dict] = []
    contexts = sorted(opts.contexts)
    with torch.inference_mode():
        for ib, b in enumerate(sorted(opts.batches)):
            try:
                dec.allocate_cache(2 * b, max(contexts) + 1)
            except RuntimeError as exc:
                if not is_oom(exc):
                    raise
                _free(dec)
                for it, t in enumerate(contexts):
                    points += _skipped(b, t, (ib, it), "out of memory allocating the KV cache")
                    for _ in range(3):
                        advance()
                continue
            for it, t in enumerate(contexts):
                points += _cell(runner, b, t, (ib, it), advance)
            _free(dec)
    return points


def _cell(runner: _Runner, b: int, t: int, cell, advance) -> list[dict]:
    base = {"batch": b, "context": t, "cell": list(cell)}
    out = []
    try:
        prefill_s, token = runner.prefill(b, t)
        out.append({**base, "kind": "prefill", "cfg": "batched", "n_seq": 2 * b, "passes": 1, "layers_s": prefill_s})
        advance()
        for batched in (True, False):
            meas = runner.decode(b, t, token, batched)
            out.append(
                {
                    **base,
                    "kind": "decode",
                    "cfg": "batched" if batched else "unbatched",
                    "n_seq": 2 * b if batched else b,
                    "passes": 1 if batched else 2,
                    **meas,
                }
            )
            advance()
    except RuntimeError as exc:
        if not is_oom(exc):
            raise
        _free_cuda()
        done = {(p["kind"], p["cfg"]) for p in out}
        out += [p for p in _skipped(b, t, cell, "out of memory") if (p["kind"], p["cfg"]) not in done]
        for _ in range(3 - len(done)):
            advance()
    return out


def _skipped(b, t, cell, why) -> list[dict]:
    base = {"batch": b, "context": t, "cell": list(cell), "skipped": why}
    return [
        {**base, "kind": "prefill", "cfg": "batched", "n_seq": 2 * b, "passes": 1},
        {**base, "kind": "decode", "cfg": "batched", "n_seq": 2 * b, "passes": 1},
        {**base, "kind": "decode", "cfg": "unbatched", "n_seq": b, "passes": 2},
    ]


def _free(dec: Decoder) -> None:
    dec.free_cache()
    _free_cuda()


def _free_cuda() -> None:
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
