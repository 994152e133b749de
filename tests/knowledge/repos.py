"""Small knowledge sources written by the tests: a repository in the prescriptions layout, advisory databases.

Nothing here is copied from Thoth's prescriptions repository or the PyPA advisory
database; the units and records are made up, in their formats.
"""

from __future__ import annotations

import json
import subprocess
import tarfile
import zipfile
from pathlib import Path

WIDGET_SIEVE = """units:
  sieves:
  - name: WidgetTwoLosesDataSieve
    type: sieve
    should_include:
      adviser_pipeline: true
    match:
      package_version:
        name: widget
        version: ">=2.0"
    run:
      log:
        type: WARNING
        message: widget 2.0 loses data on write
"""

GADGET_WRAPS = """units:
  wraps:
  - name: GadgetHostedWrap
    type: wrap
    should_include:
      adviser_pipeline: true
    match:
      state:
        resolved_dependencies:
        - name: gadget
    run:
      justification:
      - type: INFO
        message: Package 'gadget' is hosted on a forge
        link: https://forge.example.invalid/gadget
        package_name: gadget
  - name: GadgetOldWarningWrap
    type: wrap
    should_include:
      adviser_pipeline: true
    match:
      state:
        resolved_dependencies:
        - name: gadget
          version: "<9"
    run:
      justification:
      - type: WARNING
        message: gadget before 9 is unmaintained
        package_name: gadget
"""

BAD_VERSION = """units:
  wraps:
  - name: GizmoGitUnknownSizeWrap
    type: wrap
    should_include:
      adviser_pipeline: true
    match:
      state:
        resolved_dependencies:
        - name: gizmo
          version: ==git-unknown
    run:
      justification:
      - type: INFO
        message: never loaded
  - name: GizmoFineWrap
    type: wrap
    should_include:
      adviser_pipeline: true
    match:
      state:
        resolved_dependencies:
        - name: gizmo
    run:
      justification:
      - type: INFO
        message: gizmo is fine
        package_name: gizmo
"""

STATE_STEP = """units:
  steps:
  - name: GadgetWithoutGizmoStep
    type: step
    should_include:
      adviser_pipeline: true
    match:
      package_version:
        name: gadget
      state:
        resolved_dependencies:
        - name: gizmo
    run:
      score: -0.1
"""

ANY_PACKAGE_BOOT = """units:
  boots:
  - name: EveryStackBoot
    type: boot
    should_include:
      adviser_pipeline: true
    run:
      stack_info:
      - type: INFO
        message: knowledge from the test repository is in use
        link: https://knowledge.example.invalid/
"""

GADGET_SIZE = """units:
  wraps:
  - name: GadgetOneSizeWrap
    type: wrap
    should_include:
      adviser_pipeline: true
    match:
      state:
        resolved_dependencies:
        - name: gadget
          version: ==1.0
    run:
      justification:
      - type: INFO
        message: gadget 1.0 installs up to 12 KiB
        package_name: gadget
"""

IMAGE_BOOT = """units:
  boots:
  - name: AppImageCveBoot
    type: boot
    should_include:
      adviser_pipeline: true
      runtime_environments:
        base_images:
        - images.example.invalid/app:v1
    run:
      stack_info:
      - type: WARNING
        message: the app:v1 base image has a known CVE
"""

METADATA = "prescription:\n  name: test-knowledge\n  release: '2099.1'\n"


def prescriptions_repo(root: Path) -> Path:
    """A tree like Thoth's prescriptions repository: units under ``prescriptions/<2 letters>_/<package>/``."""
    units = root / "prescriptions"
    files = {
        "_prescription_metadata.yaml": METADATA,
        "wi_/widget/sieve.yaml": WIDGET_SIEVE,
        "ga_/gadget/wraps.yaml": GADGET_WRAPS,
        "ga_/gadget/step.yaml": STATE_STEP,
        "ga_/gadget/size.yaml": GADGET_SIZE,
        "gi_/gizmo/size.yaml": BAD_VERSION,
        "_generic/boot.yaml": ANY_PACKAGE_BOOT,
        "_containers/app/boot.yaml": IMAGE_BOOT,
    }
    for relative, text in files.items():
        path = units / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (root / "README.md").write_text("test knowledge\n")
    return root


def git_repo(root: Path) -> str:
    """Commit ``root`` as a git repository; returns the commit sha."""
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.invalid", "HOME": str(root.parent), "PATH": "/usr/bin:/bin"}
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "knowledge"]):
        subprocess.run(["git", "-C", str(root), *args], check=True, env=env, capture_output=True)
    return subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()


def tar_gz(root: Path, destination: Path) -> Path:
    with tarfile.open(destination, "w:gz") as tf:
        tf.add(root, arcname=root.name)
    return destination


def zip_of(root: Path, destination: Path) -> Path:
    with zipfile.ZipFile(destination, "w") as zf:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                zf.write(path, f"{root.name}/{path.relative_to(root).as_posix()}")
    return destination


WIDGET_RECORD = {
    "id": "PYSEC-9999-1",
    "modified": "2099-01-02T03:04:05Z",
    "aliases": ["CVE-2099-1111"],
    "summary": "widget 2.x leaks the write buffer",
    "affected": [{
        "package": {"ecosystem": "PyPI", "name": "widget"},
        "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "2.0"}, {"fixed": "2.10"}]}],
        "versions": ["2.0", "2.1"],
    }],
}

PYPA_YAML = """id: PYSEC-9999-1
modified: 2099-01-02T03:04:05Z
aliases:
- CVE-2099-1111
summary: widget 2.x leaks the write buffer
affected:
- package:
    ecosystem: PyPI
    name: widget
  ranges:
  - type: ECOSYSTEM
    events:
    - introduced: "2.0"
    - fixed: 2.10
  versions:
  - 2.0
  - 2.1
"""


def pypa_database(root: Path) -> Path:
    """The PyPA advisory database's layout: ``vulns/<package>/<id>.yaml`` (a workflow file beside it is not a record)."""
    (root / "vulns" / "widget").mkdir(parents=True)
    (root / "vulns" / "widget" / "PYSEC-9999-1.yaml").write_text(PYPA_YAML)
    (root / ".github" / "workflows").mkdir(parents=True)
    (root / ".github" / "workflows" / "ci.yml").write_text("on: push\n")
    return root


def osv_all_zip(destination: Path) -> Path:
    """OSV's per-ecosystem ``all.zip``: flat ``<id>.json`` records."""
    other = {"id": "GHSA-other-1", "affected": [{"package": {"ecosystem": "npm", "name": "left-pad"}}]}
    with zipfile.ZipFile(destination, "w") as zf:
        zf.writestr("PYSEC-9999-1.json", json.dumps(WIDGET_RECORD))
        zf.writestr("GHSA-other-1.json", json.dumps(other))
    return destination
