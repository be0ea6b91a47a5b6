"""Find and load product specs: every problem of every file gathered before any is reported, each at its
``file:line:col``, including the checks that need more than one field or the presets."""

from __future__ import annotations

import difflib
import glob
import os
import sys
from pathlib import Path

from tokcost.errors import InputError, Problem, UsageError
from tokcost.io.catalog import Catalog
from tokcost.io.engines import engine_problem, load_engines
from tokcost.io.located import Located, dotted
from tokcost.io.parse import load_model, validate_doc
from tokcost.io.prices import load_prices
from tokcost.records.spec import MAX_FRAMES, SPEC_VERSION, Spec
from tokcost.text import quoted


def semantic_problems(spec: Spec, doc: Located, catalog: Catalog) -> list[Problem]:
    """Checks that need more than one field or the presets: kind-specific fields, ids, resolutions."""
    out: list[Problem] = []

    def add(path: tuple, msg: str, key: bool = False):
        out.append(Problem(doc.file, *doc.where(path, key=key), dotted(path), msg))

    if spec.version != SPEC_VERSION:
        add(("version",), f"unsupported spec version {spec.version}; this tokcost reads version {SPEC_VERSION}")
    p = spec.product
    if p.kind == "video":
        if p.frames is None and (p.seconds is None or p.fps is None):
            add(("product",), "a video product needs frames, or seconds with fps")
        if p.frames is not None and p.seconds is not None:
            add(("product", "seconds"), "give frames or seconds (with fps), not both")
        elif p.frames is None and p.seconds is not None and p.fps is not None:
            # the clip's frames obey the frames field's own bounds (records.spec.Product.frames)
            made = p.seconds * p.fps
            if not 1 <= round(made) <= MAX_FRAMES:
                add(
                    ("product", "seconds"),
                    f"{p.seconds:g} s at {p.fps:g} fps is {made:,.4g} frames: a clip has 1 to {MAX_FRAMES:,} frames",
                )
    else:
        for f in ("frames", "seconds", "fps"):
            if getattr(p, f) is not None:
                add(("product", f), f"only a video product has {f}", key=True)
    if p.kind == "perception":
        for f in ("prompt_tokens", "answer_tokens"):
            if getattr(p, f) is None:
                add(("product", f), f"a perception product needs {f}")
    elif p.answer_tokens is not None:
        add(("product", "answer_tokens"), "only a perception product has answer_tokens", key=True)
    for kind, field in (("models", "models"), ("hardware", "hardware")):
        listed = getattr(spec.candidates, field) or []
        first: dict[str, int] = {}  # resolved id -> its first position: one pass, linear in the list
        for i, pid in enumerate(listed):
            found = catalog.resolve(kind, pid)
            if found is None:
                add(("candidates", field, i), catalog.unknown_message(kind, pid))
            elif first.setdefault(found, i) != i:
                add(("candidates", field, i), f"{quoted(pid)} is listed twice")
            else:
                try:  # a user's preset gets the same checks as the spec, reported at its own file:line:col
                    preset = catalog.get(kind, pid)
                except InputError as exc:
                    add(("candidates", field, i), f"preset {pid!r} ({catalog.source_of(kind, pid)}) is invalid")
                    out.extend(exc.problems)
                    continue
                if kind == "models" and p.kind not in preset.roles:
                    add(
                        ("candidates", field, i),
                        f"{pid} cannot serve this {p.kind} product (it serves: {', '.join(preset.roles)})",
                    )
    out += _architecture_problems(spec, doc, catalog)
    profiles = load_engines()
    for i, engine in enumerate(spec.candidates.engines or []):
        problem = engine_problem(engine, profiles)
        if problem:
            add(("candidates", "engines", i), problem)
    d = spec.demand
    given = [
        f for f in ("requests_per_day", "peak_to_mean", "hourly", "burstiness") if ("demand", f) in doc.key_positions
    ]
    if d.trace is not None:
        for f in [*given, *(["arrivals"] if ("demand", "arrivals") in doc.key_positions else [])]:
            add(("demand", f), f"{f} is derived from demand.trace: give one or the other", key=True)
    elif d.requests_per_day is None:
        add(("demand",), "demand needs requests_per_day (or a trace to derive it from)")
    if d.arrivals == "bursty" and d.burstiness is None and d.trace is None:
        add(("demand", "arrivals"), "bursty arrivals need demand.burstiness (1 is Poisson, 4 much burstier)")
    if d.arrivals == "poisson" and d.burstiness is not None and d.trace is None:
        add(
            ("demand", "burstiness"), "burstiness needs arrivals: bursty (poisson arrivals have burstiness 1)", key=True
        )
    if d.hourly is not None and d.trace is None:
        if sum(d.hourly) <= 0:
            add(("demand", "hourly"), "the 24 hourly weights need a positive sum (every hour is 0)")
        elif sum(d.hourly) / len(d.hourly) < sys.float_info.min:  # their mean would underflow to 0 (subnormals)
            add(
                ("demand", "hourly"),
                "the hourly weights are too small to compute with; they are relative: scale them up",
            )
        if ("demand", "peak_to_mean") in doc.key_positions:
            add(
                ("demand", "peak_to_mean"),
                "give peak_to_mean or hourly, not both: with hourly the busiest hour is the peak",
                key=True,
            )
    out += _pricing_problems(spec, doc, catalog)
    return out


def _architecture_problems(spec: Spec, doc: Located, catalog: Catalog) -> list[Problem]:
    """Each decoder config's preset: known, an AR model (its decoder is what the config replaces) that serves the
    product; and names that tell the candidates apart. The config files are read by :func:`read_decoders`."""
    out: list[Problem] = []
    c = spec.candidates

    def add(path: tuple, msg: str, key: bool = False):
        out.append(Problem(doc.file, *doc.where(path, key=key), dotted(path), msg))

    if c.models == [] and not c.architectures:
        add(("candidates", "models"), "no candidates: list a model, or a decoder config under architectures")
    labels: dict[str, int] = {}
    for i, a in enumerate(c.architectures):
        at = ("candidates", "architectures", i)
        found = catalog.resolve("models", a.model)
        if found is None:
            add((*at, "model"), catalog.unknown_message("models", a.model))
            continue
        try:
            preset = catalog.model(found)
        except InputError as exc:  # a user's preset: its own problems at its own file:line:col
            add((*at, "model"), f"preset {a.model!r} ({catalog.source_of('models', a.model)}) is invalid")
            out.extend(p for p in exc.problems if p not in out)
            continue
        if "architecture" not in preset.generation.requires:
            add(
                (*at, "model"),
                f"a decoder config replaces an AR model's decoder; {found} is a {preset.family} model",
            )
        elif spec.product.kind not in preset.roles:
            add(
                (*at, "model"),
                f"{found} cannot serve this {spec.product.kind} product (it serves: {', '.join(preset.roles)})",
            )
        label = a.model_copy(update={"model": found}).label
        field = (*at, "name") if a.name is not None else (*at, "config")
        if catalog.has("models", label):
            add(field, f"{quoted(label)} is a model preset's id: give the decoder another name")
        elif labels.setdefault(label, i) != i:
            add(field, f"{quoted(label)} names architectures[{labels[label]}] already: give each decoder its own name")
    return out


def read_decoders(spec: Spec, doc: Located, folder: Path) -> tuple[Spec, list[Problem]]:
    """The spec with each ``candidates.architectures`` entry's decoder read from its config (resolved against
    ``folder``, the spec's), and the problems: a path that is not a file at the entry's position; a config that
    is not a Llama-style decoder there too, followed by its own problems at the config's ``file:line:col``."""
    from tokcost.io.architecture import load_architecture

    read, problems = [], []
    for i, a in enumerate(spec.candidates.architectures):
        path = folder / a.config  # an absolute name stays itself
        at = ("candidates", "architectures", i, "config")
        entry = a.model_copy()
        unreadable = _not_a_file(path)
        if unreadable:
            problems.append(Problem(doc.file, *doc.where(at), dotted(at), f"{path}: {unreadable}"))
        else:
            try:
                entry._decoder = load_architecture(path)
            except InputError as exc:
                problems.append(
                    Problem(doc.file, *doc.where(at), dotted(at), f"{path} is not a Llama-style decoder config")
                )
                problems += exc.problems
        read.append(entry)
    if not read:
        return spec, problems
    candidates = spec.candidates.model_copy(update={"architectures": read})
    return spec.model_copy(update={"candidates": candidates}), problems


def _not_a_file(path: Path) -> str | None:
    """Why ``path`` is not a regular file to read (None: it is one)."""
    try:
        if path.is_file():
            return None
        return "not a file" if path.exists() else "no such file"
    except (OSError, ValueError) as exc:  # a name too long, a NUL
        return f"cannot read: {getattr(exc, 'strerror', None) or exc}"


def _pricing_problems(spec: Spec, doc: Located, catalog: Catalog) -> list[Problem]:
    """A provider the catalogue does not list, and a price or owned entry for a hardware id with no preset."""
    out: list[Problem] = []
    pricing = spec.pricing
    if pricing.provider is not None:
        providers = sorted(load_prices().providers)
        if pricing.provider not in providers:
            close = difflib.get_close_matches(pricing.provider, providers, n=1, cutoff=0.5)
            hint = f"; did you mean {close[0]}?" if close else f" (providers: {', '.join(providers)})"
            out.append(
                Problem(
                    doc.file,
                    *doc.where(("pricing", "provider")),
                    "pricing.provider",
                    f"unknown provider {pricing.provider!r}{hint}",
                )
            )
    for hw in pricing.usd_per_gpu_hour:
        if not catalog.has("hardware", hw):
            key: tuple = ("pricing", "usd_per_gpu_hour", hw)
            out.append(
                Problem(doc.file, *doc.where(key, key=True), dotted(key), catalog.unknown_message("hardware", hw))
            )
    owned = pricing.owned.hardware if pricing.owned is not None else None
    for i, hw in enumerate(owned or []):
        if not catalog.has("hardware", hw):
            item: tuple = ("pricing", "owned", "hardware", i)
            out.append(Problem(doc.file, *doc.where(item), dotted(item), catalog.unknown_message("hardware", hw)))
    return out


def load_spec(path: str | Path, catalog: Catalog) -> tuple[Spec, Located]:
    spec, doc = load_model(Spec, path)
    spec, problems = read_decoders(spec, doc, Path(path).parent)
    problems = semantic_problems(spec, doc, catalog) + problems
    if problems:
        raise InputError(problems)
    try:
        return with_trace(canonical_ids(spec, catalog), Path(path).parent), doc
    except InputError as exc:  # a trace that cannot be read at all: say so at the spec's demand.trace
        at = ("demand", "trace")
        raise InputError(
            [
                Problem(doc.file, *doc.where(at), dotted(at), f"{p.file}: {p.message}") if p.line == 0 else p
                for p in exc.problems
            ]
        ) from None


def with_trace(spec: Spec, folder: Path) -> Spec:
    """The spec with the demand its ``demand.trace`` gives (resolved against ``folder``, the spec's): requests per
    day, the hourly curve and the burstiness; the summary of what was derived rides on
    ``spec.demand.trace_summary``. A spec without a trace is returned as it is."""
    name = spec.demand.trace
    if name is None:
        return spec
    from tokcost.io.trace import derive, load_trace  # only a spec with a trace reads one
    from tokcost.records.spec import TraceSummary

    path = folder / name  # an absolute name stays itself
    found = derive(load_trace(path, shown=str(path)))
    demand = spec.demand.model_copy(
        update={
            "requests_per_day": found.requests_per_day,
            "hourly": found.hourly,
            "peak_to_mean": 1.0,
            "arrivals": "bursty" if found.burstiness is not None else "poisson",
            "burstiness": found.burstiness,
            "trace": name,
        }
    )
    demand._trace = TraceSummary(
        file=name,
        requests=found.requests,
        hours_observed=found.hours_observed,
        requests_per_day=found.requests_per_day,
        hourly=found.hourly,
        peak_per_s=found.peak_per_s,
        burstiness=found.burstiness,
        unobserved_hours=found.unobserved_hours,
        sizes={k: list(v) for k, v in found.sizes.items()},
    )
    demand._trace_path = str(path)
    return spec.model_copy(update={"demand": demand})


def canonical_ids(spec: Spec, catalog: Catalog) -> Spec:
    """The spec with every preset id as the preset spells it (``SDXL`` -> ``sdxl``): ids match letter case aside,
    and everything after loading compares them as written. Call after :func:`semantic_problems` found none."""

    def ids(kind: str, values):
        return None if values is None else [catalog.resolve(kind, v) or v for v in values]

    c, p = spec.candidates, spec.pricing
    owned = p.owned.model_copy(update={"hardware": ids("hardware", p.owned.hardware)}) if p.owned else None
    architectures = [
        a.model_copy(update={"model": catalog.resolve("models", a.model) or a.model}) for a in c.architectures
    ]
    return spec.model_copy(
        update={
            "candidates": c.model_copy(
                update={
                    "models": ids("models", c.models),
                    "hardware": ids("hardware", c.hardware),
                    "architectures": architectures,
                }
            ),
            "pricing": p.model_copy(
                update={
                    "usd_per_gpu_hour": {catalog.resolve("hardware", k) or k: v for k, v in p.usd_per_gpu_hour.items()},
                    "owned": owned,
                }
            ),
        }
    )


def expand_paths(args: list[str]) -> list[str]:
    """Spec arguments as files: an existing path is taken literally first (``spec[1].yaml`` is that file, not a
    pattern), a directory as its *.yaml/*.yml (sorted), anything else with ``* ? [`` as a glob (``**`` recurses
    without following symbolic links, so a link loop cannot repeat a spec); a missing path is exit 2. A file
    reached twice (two patterns, a link) is read once, under the first name that reached it."""
    files: list[str] = []
    for arg in args:
        try:
            files += _expand(arg)
        except (OSError, ValueError) as exc:  # a name too long, a NUL, a folder that cannot be listed
            reason = getattr(exc, "strerror", None) or str(exc)
            raise InputError([Problem(arg, 0, 0, "(file)", f"cannot read: {reason}")]) from None
    if not files:
        raise UsageError(f"no spec files found in: {' '.join(args)}")
    seen: dict[str, str] = {}
    for f in files:
        seen.setdefault(os.path.realpath(f), f)
    return list(seen.values())


def _expand(arg: str) -> list[str]:
    p = Path(arg)
    if p.is_dir():
        return [str(f) for f in sorted([*p.glob("*.yaml"), *p.glob("*.yml")])]
    if p.exists() or p.is_symlink():
        return [arg]
    if glob.has_magic(arg):
        return _glob(arg)
    raise InputError([Problem(arg, 0, 0, "(file)", "no such file or directory")])


def _glob(pattern: str) -> list[str]:
    """The files ``pattern`` matches, sorted; pathlib's glob does not follow symbolic links for ``**``. As in a
    shell, a wildcard does not match a hidden file (a name starting with '.') unless the pattern's does."""
    anchor = Path(pattern).anchor
    hidden = Path(pattern).name.startswith(".")
    found = Path(anchor or ".").glob(pattern[len(anchor) :])
    return sorted(str(f) for f in found if f.is_file() and (hidden or not f.name.startswith(".")))


def load_specs(files: list[str], catalog: Catalog) -> list[tuple[str, Spec, Located]]:
    loaded, problems = [], []
    for f in files:
        try:
            spec, doc = load_spec(f, catalog)
            loaded.append((f, spec, doc))
        except InputError as exc:
            problems += exc.problems
    if problems:
        raise InputError(problems)
    return loaded


def load_calibration_file(path, catalog: Catalog | None = None):
    """The calibration at ``path`` (None: none), its device checked against ``catalog``'s presets. Its module
    loads only when a calibration is given."""
    if path is None:
        return None
    from tokcost.io.calibration import load_calibration

    return load_calibration(path, catalog)


def spec_from_data(data, name: str, catalog: Catalog) -> tuple[str, Spec, Located]:
    """A spec given in code (a ``Spec`` record or a mapping) checked like a file named ``name``; its problems
    have no line (a mapping has no positions), only the field."""
    if isinstance(data, Spec):
        data = data.model_dump(mode="json", exclude_unset=True)
    doc = Located(data=data, file=name)
    spec, problems = read_decoders(validate_doc(Spec, doc), doc, Path.cwd())
    problems = semantic_problems(spec, doc, catalog) + problems
    if problems:
        raise InputError(problems)
    return name, with_trace(canonical_ids(spec, catalog), Path.cwd()), doc
