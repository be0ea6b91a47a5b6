"""Timing that is honest on both devices: ``perf_counter`` around synchronous CPU work, CUDA events around
asynchronous GPU work (read only after a synchronise), and the median of repeats."""

from __future__ import annotations

import statistics
import time

import torch


class Clock:
    """Marks points in a stream of work and returns the seconds between consecutive marks."""

    def __init__(self, device: torch.device):
        self.cuda = device.type == "cuda"
        self.marks: list = []

    def mark(self) -> None:
        if self.cuda:
            ev = torch.cuda.Event(enable_timing=True)
            ev.record()
            self.marks.append(ev)
        else:
            self.marks.append(time.perf_counter())

    def intervals(self) -> list[float]:
        """Seconds between consecutive marks (synchronises the GPU first); clears the marks."""
        if self.cuda:
            torch.cuda.synchronize()
            out = [a.elapsed_time(b) / 1e3 for a, b in zip(self.marks, self.marks[1:])]
        else:
            out = [b - a for a, b in zip(self.marks, self.marks[1:])]
        self.marks = []
        return out


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_call(fn, device: torch.device, repeats: int, warmup: int = 1) -> float:
    """Median seconds of ``fn()`` over ``repeats`` runs after ``warmup`` untimed runs."""
    for _ in range(warmup):
        fn()
    sync(device)
    clock = Clock(device)
    times = []
    for _ in range(repeats):
        clock.mark()
        fn()
        clock.mark()
        times += clock.intervals()
    return statistics.median(times)


def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")
