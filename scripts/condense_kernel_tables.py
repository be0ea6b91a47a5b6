"""Condense NVIDIA aiconfigurator-core's measured kernel tables into tokcost's compact per-chip tables.

    pip install 'tokcost[kernels]'          # aiconfigurator-core (Apache-2.0) with pandas and pyarrow
    python scripts/condense_kernel_tables.py [--data-root DIR] [--out tokcost/data/generated/kernels]

aiconfigurator-core ships operator latencies measured on real GPUs as parquet files under
``aiconfigurator_core/systems/data/<chip>/<op>/<framework>/<version>/``, each folder with a
``collection_meta.yaml``. For every chip with data this writes ``<chip>.npz``: dense grids of latency (seconds,
float32) over a log-spaced grid of shapes, NaN where the chip's table has no measurement, and a ``meta`` entry
(JSON) giving each table's provenance: the package and its version, the framework and its version, the source
file inside the package, the kernel, the filter applied and the folder's collection metadata. The grids keep
measured points only (no averaging), so the loader's interpolation reproduces them exactly.

Which measurements are kept (one framework per chip, the same for every op, so the tables are of one stack):
- framework: vLLM, its newest version on the chip (its bf16 GEMM is ``torch.nn.functional.linear``, i.e. cuBLAS,
  the library PyTorch eager and torch.compile's matmuls call too); TensorRT-LLM where a chip has no vLLM data.
- gemm.<dtype> (m, n, k): bfloat16 and fp8 (per-tensor scaled; shipped with its provenance, though diffusion prices fp8
  at its roofline: docs/methodology.md, "fp8 at its roofline"); the kernel with the most rows for the dtype;
  m at the table's powers of two, n and k at all of the table's values.
- attention.context (batch, isl, heads, head_dim): multi-head (as many KV heads as query heads), 16-bit KV cache,
  no sliding window; the kernel with the most such rows.
- attention.generation (batch, step, heads, kv_heads, head_dim): one new token per sequence against a 16-bit KV
  cache of ``step`` earlier tokens (its latency grows with the bytes of step + 1 positions), no sliding window.
- nccl.<op> (gpus, bytes): all_reduce, all_gather, reduce_scatter, alltoall of 16-bit data, newest NCCL version.
  aiconfigurator's ``message_size`` counts 16-bit elements, not bytes (its collection_meta.yaml for gb300's
  TensorRT-LLM comm data: "message_size counts BF16 elements, so the 128..536,870,912 range spans 256B..1GiB of
  payload"; its comm shims factor "an element count"): the axis is written in bytes, 2 per element.
- vllm.all_reduce (gpus, bytes): vLLM's own all-reduce of bf16 data as its CUDA graphs replay it (kernel
  ``vLLM_custom_graph``, the rows aiconfigurator itself prices vLLM with), newest vLLM version on the chip. It is
  what ``tensor_model_parallel_all_reduce`` runs at each size: vLLM's custom one-/two-shot kernel below its 8 MiB
  limit (newer releases on Hopper and Blackwell keep larger messages on their symmetric-memory all-reduce), NCCL
  above (A100's vLLM 0.14 times meet NCCL's table at 8 MiB: ``message_size`` counts bf16 elements, as NCCL's).

The planner never imports pandas, pyarrow or aiconfigurator-core: it reads the npz files with numpy
(tokcost/io/kernel_tables.py).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from importlib import metadata
from pathlib import Path

import numpy as np

from tokcost.io.paths import KERNELS_DIR, PACKAGE_DIR

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / KERNELS_DIR.relative_to(PACKAGE_DIR.parent)
PACKAGE = "aiconfigurator-core"
FRAMEWORKS = ("vllm", "trtllm")  # in order of preference
GEMM_DTYPES = ("bfloat16", "fp8")
NCCL_OPS = ("all_reduce", "all_gather", "reduce_scatter", "alltoall")
HALF_BYTES = 2.0  # nccl_dtype half: bytes per element of message_size

NOTICE = """\
The kernel tables in this folder (*.npz) are condensed from measurements shipped in NVIDIA's
aiconfigurator-core {version} (https://pypi.org/project/aiconfigurator-core/), the files
aiconfigurator_core/systems/data/<chip>/<op>/<framework>/<version>/*.parquet named in each table's provenance.

Copyright (c) 2025-2026 NVIDIA CORPORATION & AFFILIATES. All rights reserved.
SPDX-License-Identifier: Apache-2.0

Licensed under the Apache License, Version 2.0 (the "License"); you may not use these files except in compliance
with the License. You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software distributed under the License is distributed
on an "AS IS" BASIS, WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for
the specific language governing permissions and limitations under the License.

Changes made by tokcost (scripts/condense_kernel_tables.py): rows selected (framework, kernel, dtype, shapes on a
log-spaced grid), pivoted into dense grids, latency converted from milliseconds to seconds and stored as float32.
"""


def version_key(version: str) -> tuple:
    """Sort key of a version string such as 0.5.6.post2 or 1.3.0rc20: its numbers in order."""
    return tuple(int(x) for x in re.findall(r"\d+", version))


def newest(folder: Path) -> Path | None:
    versions = [p for p in folder.iterdir() if p.is_dir()] if folder.is_dir() else []
    return max(versions, key=lambda p: version_key(p.name), default=None)


def read_meta(folder: Path) -> dict:
    import yaml

    path = folder / "collection_meta.yaml"
    return yaml.safe_load(path.read_text()) if path.exists() else {}


def grid(frame, axes: list[str], values: dict[str, list] | None = None):
    """Pivot rows onto the grid of ``axes`` (each axis: ``values[axis]`` or every value in the rows): latency in
    seconds, NaN where no row was measured. Duplicated shapes keep their median."""
    values = values or {}
    axis_values = [np.array(sorted(values.get(a) or frame[a].unique()), dtype=float) for a in axes]
    frame = frame[np.logical_and.reduce([frame[a].isin(v) for a, v in zip(axes, axis_values)])]
    latency = frame.groupby(axes)["latency"].median() * 1e-3  # ms -> s
    out = np.full([len(v) for v in axis_values], np.nan, dtype=np.float32)
    index = tuple(np.searchsorted(v, latency.index.get_level_values(a)) for a, v in zip(axes, axis_values))
    out[index] = latency.to_numpy(dtype=np.float32)
    return axis_values, out


def most_rows(frame, column: str = "kernel_source") -> str:
    return frame[column].value_counts().idxmax()


class Chip:
    """Collects one chip's condensed tables and their provenance."""

    def __init__(self, name: str, data_root: Path, package_version: str):
        self.name, self.root, self.version = name, data_root / name, package_version
        self.arrays: dict[str, np.ndarray] = {}
        self.tables: dict[str, dict] = {}
        self.device = ""

    def source(self, path: Path) -> str:
        return str(Path("aiconfigurator_core/systems/data") / path.relative_to(self.root.parent))

    def add(self, name: str, axes: list[str], axis_values, values, path: Path, kernel: str, filt: str) -> None:
        for a, v in zip(axes, axis_values):
            self.arrays[f"{name}/{a}"] = v
        self.arrays[f"{name}/latency_s"] = values
        folder = path.parent
        meta = read_meta(folder)
        self.tables[name] = {
            "axes": axes,
            "unit": "s",
            "package": PACKAGE,
            "package_version": self.version,
            "framework": folder.parent.name,
            "framework_version": folder.name,
            "source": self.source(path),
            "kernel_source": kernel,
            "filter": filt,
            "collection_meta": meta,
            "measured_points": int(np.isfinite(values).sum()),
        }

    def framework_folder(self, op: str) -> Path | None:
        for fw in FRAMEWORKS:
            folder = newest(self.root / op / fw)
            if folder is not None:
                return folder
        return None

    def gemm(self) -> None:
        import pandas as pd

        folder = self.framework_folder("gemm")
        if folder is None:
            return
        path = folder / "gemm_perf.parquet"
        frame = pd.read_parquet(path)
        self.device = str(frame["device"].iloc[0])
        for dtype in GEMM_DTYPES:
            rows = frame[frame["gemm_dtype"] == dtype]
            if rows.empty:
                continue
            kernel = most_rows(rows)
            rows = rows[rows["kernel_source"] == kernel]
            ms = [m for m in rows["m"].unique() if m & (m - 1) == 0]  # powers of two: a log-spaced grid
            axis_values, values = grid(rows, ["m", "n", "k"], {"m": ms})
            filt = f"gemm_dtype == {dtype!r}, kernel_source == {kernel!r}, m a power of two"
            self.add(f"gemm.{dtype}", ["m", "n", "k"], axis_values, values, path, kernel, filt)

    def attention(self) -> None:
        import pandas as pd

        folder = self.framework_folder("attention")
        if folder is None:
            return
        for phase, axes in (
            ("context", ["batch_size", "isl", "num_heads", "head_dim"]),
            ("generation", ["batch_size", "step", "num_heads", "num_key_value_heads", "head_dim"]),
        ):
            path = folder / f"{phase}_attention_perf.parquet"
            if not path.exists():
                continue
            frame = pd.read_parquet(path)
            keep = frame["kv_cache_dtype"].isin(["bfloat16", "float16"]) & (frame["attn_dtype"] == "bfloat16")
            if "window_size" in frame:
                keep &= frame["window_size"] == 0
            if phase == "context":
                keep &= frame["num_heads"] == frame["num_key_value_heads"]
            rows = frame[keep]
            if rows.empty:
                continue
            kernel = most_rows(rows)
            rows = rows[rows["kernel_source"] == kernel]
            axis_values, values = grid(rows, axes)
            filt = f"kernel_source == {kernel!r}, attn_dtype bfloat16, 16-bit KV cache, window_size 0" + (
                ", num_key_value_heads == num_heads" if phase == "context" else ""
            )
            names = [
                {"batch_size": "batch", "num_heads": "heads", "num_key_value_heads": "kv_heads"}.get(a, a) for a in axes
            ]
            self.add(f"attention.{phase}", names, axis_values, values, path, kernel, filt)

    def nccl(self) -> None:
        import pandas as pd

        folder = newest(self.root / "comm" / "nccl")
        if folder is None:
            return
        path = folder / "nccl_perf.parquet"
        frame = pd.read_parquet(path)
        for op in NCCL_OPS:
            rows = frame[(frame["op_name"] == op) & (frame["nccl_dtype"] == "half")]
            if rows.empty:
                continue
            axis_values, values = grid(rows, ["num_gpus", "message_size"])
            axis_values[1] = axis_values[1] * HALF_BYTES  # 16-bit elements -> bytes
            filt = f"op_name == {op!r}, nccl_dtype == 'half'; bytes = message_size (16-bit elements) x 2"
            self.add(
                f"nccl.{op}", ["gpus", "bytes"], axis_values, values, path, str(rows["kernel_source"].iloc[0]), filt
            )

    def vllm_all_reduce(self) -> None:
        import pandas as pd

        folder = newest(self.root / "comm" / "vllm")
        if folder is None:
            return
        path = folder / "custom_allreduce_perf.parquet"
        if not path.exists():
            return
        frame = pd.read_parquet(path)
        kernel = "vLLM_custom_graph"
        rows = frame[(frame["kernel_source"] == kernel) & (frame["allreduce_dtype"] == "bfloat16")]
        if rows.empty:  # a chip measured in eager mode only (b60)
            return
        axis_values, values = grid(rows, ["num_gpus", "message_size"])
        axis_values[1] = axis_values[1] * HALF_BYTES  # bf16 elements -> bytes
        filt = f"kernel_source == {kernel!r}, allreduce_dtype == 'bfloat16'; bytes = message_size (bf16 elements) x 2"
        self.add("vllm.all_reduce", ["gpus", "bytes"], axis_values, values, path, kernel, filt)

    def write(self, out: Path) -> Path | None:
        if not self.tables:
            return None
        meta = {
            "chip": self.name,
            "device": self.device,
            "package": PACKAGE,
            "package_version": self.version,
            "licence": "Apache-2.0 (NOTICE beside this file)",
            "tables": self.tables,
        }
        path = out / f"{self.name}.npz"
        tmp = path.with_suffix(".tmp.npz")
        np.savez_compressed(tmp, meta=np.array(json.dumps(meta, sort_keys=True)), **self.arrays)
        tmp.replace(path)
        return path


def default_data_root() -> Path:
    import aiconfigurator_core

    return Path(aiconfigurator_core.__file__).parent / "systems" / "data"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data-root", type=Path, help="aiconfigurator-core's systems/data folder (default: the installed package's)"
    )
    parser.add_argument("--out", type=Path, default=OUT, help=f"output folder (default {OUT.relative_to(ROOT)})")
    parser.add_argument(
        "--package-version", help="version recorded in the provenance (default: the installed package's)"
    )
    args = parser.parse_args(argv)
    data_root = args.data_root or default_data_root()
    version = args.package_version or metadata.version(PACKAGE)
    args.out.mkdir(parents=True, exist_ok=True)
    written = []
    for folder in sorted(p for p in data_root.iterdir() if p.is_dir()):
        chip = Chip(folder.name, data_root, version)
        chip.gemm()
        chip.attention()
        chip.nccl()
        chip.vllm_all_reduce()
        path = chip.write(args.out)
        if path is not None:
            written.append(path)
            print(f"{path.name}: {', '.join(chip.tables)} ({path.stat().st_size / 1e3:.0f} kB)", file=sys.stderr)
    (args.out / "NOTICE").write_text(NOTICE.format(version=version))
    total = sum(p.stat().st_size for p in written)
    print(f"{len(written)} chips, {total / 1e6:.2f} MB in {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
