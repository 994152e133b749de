"""Which prescription units apply: Thoth's ``should_include`` rules over the target machine and labels."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Optional

from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from ..environment.runtime import RuntimeEnvironment
from .units import Hardware, RuntimeCondition, Selector, ShouldInclude, Unit


@dataclass(frozen=True)
class MachineFacts:
    """What units may ask about the target machine (from the RuntimeEnvironment)."""

    os_name: Optional[str] = None
    os_version: Optional[str] = None
    python_version: Optional[str] = None
    platform: Optional[str] = None
    cpu_family: Optional[int] = None
    cpu_model: Optional[int] = None
    cpu_flags: Optional[frozenset[str]] = None  # None: unknown
    gpu_models: tuple[str, ...] = ()
    cuda_version: Optional[str] = None
    base_image: Optional[str] = None
    versions: Mapping[str, str] = field(default_factory=dict)  # cudnn/mkl/openblas/openmpi

    @classmethod
    def from_runtime(cls, env: RuntimeEnvironment) -> MachineFacts:
        """The facts of a RuntimeEnvironment as units compare them (flags lower-case, Python major.minor)."""
        return cls(
            os_name=env.os_name,
            os_version=env.os_version,
            python_version=_major_minor(env.python_version),
            platform=env.platform,
            cpu_family=env.cpu_family,
            cpu_model=env.cpu_model,
            cpu_flags=frozenset(f.lower() for f in env.cpu_flags) if env.cpu_flags else None,  # none found: unknown
            gpu_models=env.gpu_models,
            cuda_version=env.cuda_version,
            base_image=env.base_image,
            versions={k: v for k, v in _versions(env).items() if v is not None},
        )


@dataclass(frozen=True)
class UnitContext:
    """Everything ``should_include`` is decided on."""

    facts: MachineFacts = field(default_factory=MachineFacts)
    recommendation_type: str = "stable"
    labels: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_runtime(cls, env: Optional[RuntimeEnvironment], recommendation_type: str,
                     labels: Optional[Mapping[str, str]] = None) -> UnitContext:
        """The context of a RuntimeEnvironment (None: nothing known); ``labels`` (``--labels``) win over its own."""
        env = env or RuntimeEnvironment()
        merged = {**env.labels, **(labels or {})}
        return cls(MachineFacts.from_runtime(env), recommendation_type, {str(k): str(v) for k, v in merged.items()})


def _versions(env: RuntimeEnvironment) -> dict[str, Optional[str]]:
    return {"cudnn_version": env.cudnn_version, "mkl_version": env.mkl_version,
            "openblas_version": env.openblas_version, "openmpi_version": env.openmpi_version}


def _major_minor(value: Optional[str]) -> Optional[str]:
    """``3.11.4`` -> ``3.11``: units compare the Python version as Thoth writes it."""
    return None if value is None else ".".join(value.split(".")[:2])


def select_units(units: Iterable[Unit], context: UnitContext, *, known: Iterable[str] = ()) -> tuple[Unit, ...]:
    """The units whose ``should_include`` holds for ``context`` (and whose dependencies are in, or ``known``)."""
    said: dict[int, bool] = {}  # rule -> verdict: a store's units of one kind share their rules (guidance.unit_form)
    chosen = []
    for unit in units:
        rule = unit.should_include
        verdict = said.get(id(rule))
        if verdict is None:
            verdict = said[id(rule)] = should_include(rule, context)
        if verdict:
            chosen.append(unit)
    if not any(unit.should_include.dependencies for unit in chosen):
        return tuple(chosen)
    already = set(known)
    names = {unit.name for unit in chosen} | already
    while True:
        kept = [u for u in chosen if all(dep in names for dep in u.should_include.dependencies)]
        if len(kept) == len(chosen):
            return tuple(kept)
        chosen, names = kept, {u.name for u in kept} | already


def should_include(rule: ShouldInclude, context: UnitContext) -> bool:
    """Thoth's inclusion rules for an adviser run (docs/prescriptions.md, "When a unit applies")."""
    if rule.times == 0 or rule.library_usage or rule.authenticated:
        return False
    if rule.adviser_pipeline is False or (rule.adviser_pipeline is None and rule.dependency_monkey_pipeline):
        return False
    if rule.recommendation_types is not None and not rule.recommendation_types.accepts([context.recommendation_type]):
        return False
    if rule.labels and not any(context.labels.get(k) == v for k, v in rule.labels.items()):
        return False
    return runtime_matches(rule.runtime, context.facts)


def runtime_matches(rule: RuntimeCondition, facts: MachineFacts) -> bool:
    if rule.needs_image_analysis:
        return False
    if rule.operating_systems is not None and not _os_matches(rule.operating_systems, facts):
        return False
    if rule.hardware and not any(_hardware_matches(hw, facts) for hw in rule.hardware):
        return False
    if not all(_version_matches(spec, _fact_version(facts, key)) for key, spec in rule.versions.items()):
        return False
    if rule.platforms is not None and not rule.platforms.accepts(_present(facts.platform)):
        return False
    return rule.base_images is None or _base_image_matches(rule.base_images, facts.base_image)


def _present(value: Optional[str]) -> list[str]:
    return [value] if value else []


def _fact_version(facts: MachineFacts, key: str) -> Optional[str]:
    if key == "python_version":
        return facts.python_version
    if key == "cuda_version":
        return facts.cuda_version
    return facts.versions.get(key)


def _version_matches(spec: SpecifierSet, present: Optional[str]) -> bool:
    if present is None:
        return False
    try:
        return spec.contains(Version(present), prereleases=True)
    except InvalidVersion:
        return False


def _os_matches(rule: Selector, facts: MachineFacts) -> bool:
    def one(entry: tuple[Optional[str], Optional[str]]) -> bool:
        name, version = entry
        if name is not None and name != facts.os_name:
            return False
        if version is None:
            return True
        present = facts.os_version or ""
        return present == version or present.startswith(version + ".")

    return any(one(entry) for entry in rule.values) != rule.negate


def _hardware_matches(rule: Hardware, facts: MachineFacts) -> bool:
    if rule.cpu_families is not None and not rule.cpu_families.accepts(_known(facts.cpu_family)):
        return False
    if rule.cpu_models is not None and not rule.cpu_models.accepts(_known(facts.cpu_model)):
        return False
    if rule.gpu_models is not None and not rule.gpu_models.accepts(facts.gpu_models):
        return False
    if rule.cpu_flags is not None:
        if facts.cpu_flags is None:
            return False
        wanted = {str(flag).lower() for flag in rule.cpu_flags.values}
        return not (wanted & facts.cpu_flags) if rule.cpu_flags.negate else wanted <= facts.cpu_flags
    return True


def _known(value: Optional[int]) -> list[int]:
    return [] if value is None else [value]


def _base_image_matches(rule: Selector, image: Optional[str]) -> bool:
    if image is None:
        return rule.accepts([])
    untagged = image.rsplit(":", 1)[0] if ":" in image.rsplit("/", 1)[-1] else image
    hit = image in rule.values or untagged in rule.values
    return hit != rule.negate


