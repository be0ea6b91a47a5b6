#!/usr/bin/env bash
# Measure this NVIDIA GPU with `tokcost bench` and write its calibration to tokcost/data/hardware/measured/<gpu>.yaml.
#
# On a fresh machine it installs only what is missing: torch (the CUDA build from PyPI) and tokcost itself
# (`pip install -e . --no-deps` when tokcost's dependencies are already there, else with them). The grid is sized
# to finish in about a minute on an H100/H200 (4 of Emu3-Gen's 32 layers; the full depth is extrapolated), and the
# whole run is capped at 8 minutes. Usage: scripts/gpu_bench.sh [extra tokcost bench flags]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

have() { "$PY" -c "import $1" >/dev/null 2>&1; }

command -v nvidia-smi >/dev/null 2>&1 || { echo "gpu_bench: no nvidia-smi; this script needs an NVIDIA GPU" >&2; exit 2; }
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader >&2 || true

if ! have torch; then
  echo "gpu_bench: installing torch" >&2
  "$PY" -m pip install -q 'torch>=2.2'
fi
# always install tokcost: from the repo root `import tokcost.cli.app` succeeds off the working directory even when
# tokcost and its dependencies are not installed, so it cannot tell whether the dependencies are there
if have typer && have rich && have pydantic_core && have yaml && have numpy; then
  "$PY" -m pip install -q -e . --no-deps
else
  "$PY" -m pip install -q -e '.[bench]'
fi
"$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" \
  || { echo "gpu_bench: torch $("$PY" -c 'import torch; print(torch.__version__)') sees no CUDA device" >&2; exit 2; }

gpu=$("$PY" -c "import re, torch; print(re.sub(r'[^a-z0-9]+', '-', torch.cuda.get_device_name(0).lower()).strip('-'))")
engine=custom
if have transformers; then engine=transformers; fi
measured=$("$PY" -c "from tokcost.io.paths import MEASURED_DIR; print(MEASURED_DIR)")
mkdir -p "$measured"
out="$measured/${gpu}.yaml"
json="$measured/${gpu}.json"

timeout 480 "$PY" -m tokcost bench --gpu --model emu3-gen --layers 4 \
  --batches 1,4,16,64 --contexts 128,512,1024 --repeats 10 --engine "$engine" \
  --format json --output "$out" "$@" > "$json"

"$PY" - "$json" <<'PYEOF'
import json, sys

r = json.load(open(sys.argv[1]))
d, c, f = r["device"], r["ceilings"], r["fit"]
print(f"{d['name']} (preset {d['preset']}): copy {c['copy_gbps']:.0f} GB/s, matmul {c['matmul_tflops']:.0f} TFLOP/s")
print(f"fit vs {f['reference']}: mfu {f['mfu']:.3f} mbu {f['mbu']:.3f} host/layer {f['host_per_layer_s']*1e6:.1f} us "
      f"fixed/step {f['fixed_per_step_s']*1e3:.2f} ms; holdout_error {r['holdout_error']:.1%}")
print(f"{'cfg':<10}{'batch':>6}{'ctx':>6}{'step ms':>9}{'full ms':>9}{'model':>9}{'GB/s':>8}{'%copy':>7}")
for p in r["points"]:
    if p["kind"] != "decode":
        continue
    if p.get("skipped"):
        print(f"{p['cfg']:<10}{p['batch']:>6}{p['context']:>6}  {p['skipped']}")
        continue
    print(f"{p['cfg']:<10}{p['batch']:>6}{p['context']:>6}{p['step_s']*1e3:>9.2f}{p['full_step_s']*1e3:>9.2f}"
          f"{p['predicted_full_s']*1e3:>9.2f}{p['achieved_gbps']:>8.0f}{p['copy_fraction']:>7.0%}")
for t in r.get("transformers") or []:
    if not t.get("skipped"):
        print(f"transformers generate, batch {t['batch']}: {t['transformers_s_per_token']*1e3:.2f} ms/token "
              f"({t['ratio']:.2f}x the custom decoder's step)")
PYEOF
echo "wrote $out (raw result: $json)" >&2
