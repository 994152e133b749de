"""The exception tree of micro-thoth: every error a user can see.

Exceptions carry data; ``console.py`` formats them. Foreign exceptions are
translated once, at the adapter that calls the foreign code, with ``from exc``.

    ThothPipError(message, hint, exit_code)
    ├── UsageError                      bad flags or arguments (exit 2)
    ├── NotInProject(names, suggestions)  update NAME for a name the Pipfile and lock lack
    ├── InputFileError(path, key_path)  a Pipfile / lock / requirements / YAML we cannot use
    │   ├── NotLockedError              a requirements file without pins and hashes (--deploy)
    │   └── StaleLockError              the lock's _meta hash does not match the Pipfile
    ├── EnvironmentError_               runtime environment detection or configuration
    │   └── TargetInterpreterError      the target Python is missing or unusable
    ├── ResolutionError                 the resolver could not produce a stack
    │   ├── ResolutionImpossible(causes)  conflicting requirements, with their chains
    │   ├── ResolutionTooDeep           the search gave up
    │   └── RemoteResolutionError       the backend failed (status, problem body)
    ├── PackageIndexError(index)        talking to a package index
    │   ├── PackageNotFound(name, suggestions)
    │   ├── NoCompatibleArtifact(name, version, target)
    │   └── IndexUnreachable(url, reason)
    ├── IntegrityError                  bytes that are not what the lock promised
    │   ├── DigestMismatch(package, filename, index, expected, actual)
    │   ├── DigestMismatches(mismatches)  several files of one plan, all named
    │   └── MissingHashError(package)   a lock entry without hashes under --deploy
    └── InstallError(distribution)      writing into an environment
        ├── UnsafeWheel(reason)         a hostile or malformed wheel, refused
        ├── BuildError(package, output)  `pip wheel` failed for an sdist / VCS / path
        └── EnvironmentBusy(path)       another install holds the environment's lock
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class ThothPipError(Exception):
    """Root of every error shown to a user: one paragraph, a hint, an exit code."""

    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message

    @property
    def kind(self) -> str:
        """The class as a snake_case word (``stale_lock_error``): what ``--json`` calls it."""
        name = type(self).__name__.rstrip("_")
        return "".join("_" + c.lower() if c.isupper() and i else c.lower() for i, c in enumerate(name))

    def to_dict(self) -> dict[str, object]:
        """kind, message, hint, exit code and the data attributes (path, package, ...) as JSON values."""
        data: dict[str, object] = {"kind": self.kind, "message": self.message, "hint": self.hint, "exit_code": self.exit_code}
        for key, value in vars(self).items():
            if key in data or key.startswith("_") or key in ("message", "hint"):
                continue
            if isinstance(value, (tuple, list)):
                value = [getattr(v, "__dict__", v) for v in value]
            if value is None or isinstance(value, (str, int, float, bool, list)):
                data.setdefault(key, value)
        data.setdefault("path", None)
        return data


class UsageError(ThothPipError):
    """The command line asks for something impossible or contradictory."""

    exit_code = 2


class NotInProject(ThothPipError):
    """Names the user asked to update that neither the Pipfile nor its lock has (exit 1, as pipenv)."""

    def __init__(self, names: Sequence[str], suggestions: dict[str, tuple[str, ...]]) -> None:
        quoted = ", ".join(f"'{n}'" for n in names)
        close = [f"'{s}' for '{n}'" for n in names for s in suggestions.get(n, ())[:1]]
        super().__init__(
            f"not in the Pipfile or its lock: {quoted}",
            hint=("did you mean " + ", ".join(close) + "?") if close else "see `thoth-pip graph` for what is locked",
        )
        self.names = tuple(names)
        self.suggestions = suggestions


class InputFileError(ThothPipError):
    """A file we were given is malformed; names the file and the key path."""

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        key_path: str | None = None,
        hint: str | None = None,
    ) -> None:
        where = path or "<input>"
        if key_path:
            where = f"{where}: {key_path}"
        super().__init__(f"{where}: {message}", hint=hint)
        self.path = path
        self.key_path = key_path
        self.reason = message


class NotLockedError(InputFileError):
    """A requirements file whose entries are not all pinned with hashes."""


class StaleLockError(InputFileError):
    """The lock was made from another Pipfile (or for another Python)."""

    def __init__(
        self, message: str, *, path: str | None, expected: str, actual: str, hint: str | None = None
    ) -> None:
        super().__init__(message, path=path, hint=hint)
        self.expected = expected
        self.actual = actual


class EnvironmentError_(ThothPipError):  # trailing _: the builtin name stays unshadowed
    """The runtime environment could not be detected or configured."""


class TargetInterpreterError(EnvironmentError_):
    """The interpreter to install into is missing or cannot be queried."""


class ResolutionError(ThothPipError):
    """No stack could be resolved."""


@dataclass(frozen=True)
class ConflictCause:
    """One requirement taking part in a conflict, with the chain that brought it in."""

    requirement: str
    chain: tuple[str, ...]  # from the root: ("Pipfile", "a==1.0", "b==2.0")


class ResolutionImpossible(ResolutionError):
    """The requirements cannot all be satisfied; ``causes`` says which and through whom."""

    def __init__(
        self, message: str, *, causes: Sequence[ConflictCause] = (), hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.causes = tuple(causes)


class ResolutionTooDeep(ResolutionError):
    """The resolver exceeded its round limit."""


class RemoteResolutionError(ResolutionError):
    """The resolver backend answered with an error."""

    def __init__(
        self, message: str, *, status: int | None = None, hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.status = status


class PackageIndexError(ThothPipError):
    """Something went wrong with a package index; ``index`` is its redacted URL."""

    def __init__(self, message: str, *, index: str | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.index = index


class PackageNotFound(PackageIndexError):
    """No index has the project; ``suggestions`` are close, popular names."""

    def __init__(
        self,
        name: str,
        *,
        index: str | None = None,
        suggestions: Sequence[str] = (),
        message: str | None = None,
    ) -> None:
        hint = None
        if suggestions:
            hint = "did you mean " + " or ".join(f"'{s}'" for s in suggestions) + "?"
        where = f" on {index}" if index else ""
        super().__init__(message or f"package '{name}' was not found{where}", index=index, hint=hint)
        self.name = name
        self.suggestions = tuple(suggestions)


class NoCompatibleArtifact(PackageIndexError):
    """The pinned version has no file usable on the target (and no sdist to build)."""

    def __init__(
        self, name: str, version: str, *, index: str | None = None, target: str = "", hint: str | None = None
    ) -> None:
        on = f" for {target}" if target else ""
        super().__init__(
            f"no file of {name}=={version} whose hash is locked is installable{on}",
            index=index,
            hint=hint,
        )
        self.name = name
        self.version = version
        self.target = target


class IndexUnreachable(PackageIndexError):
    """A network or HTTP failure talking to an index or file host."""

    def __init__(self, url: str, reason: str, *, hint: str | None = None) -> None:
        super().__init__(f"cannot reach {url}: {reason}", index=url, hint=hint)
        self.url = url
        self.reason = reason


class IntegrityError(ThothPipError):
    """Downloaded or cached bytes differ from what the lock promised."""


class DigestMismatch(IntegrityError):
    """An artifact's digest is not among the locked hashes."""

    def __init__(
        self, *, package: str, filename: str, index: str | None, expected: Sequence[str], actual: str
    ) -> None:
        exp = ", ".join(expected) if expected else "(none)"
        src = f" from {index}" if index else ""
        super().__init__(
            f"hash mismatch for {package}: {filename}{src} has {actual}, the lock allows {exp}; "
            "nothing was installed",
            hint=(
                "the local file changed since the lock; re-lock only if you trust the new file"
                if index is not None and index.startswith("file:")
                else "the file changed on the index or in transit; re-lock only if you trust the new file"
            ),
        )
        self.package = package
        self.filename = filename
        self.index = index
        self.expected = tuple(expected)
        self.actual = actual


class DigestMismatches(IntegrityError):
    """More than one artifact of a plan failed verification: each is named."""

    def __init__(self, mismatches: Sequence[DigestMismatch]) -> None:
        lines = "".join(
            f"\n  {m.package}: {m.filename}{' from ' + m.index if m.index else ''} has {m.actual}" for m in mismatches
        )
        super().__init__(
            f"hash mismatch for {len(mismatches)} files; nothing was installed:{lines}",
            hint="the files changed on their index or in transit; re-lock only if you trust the new files",
        )
        self.mismatches = tuple(mismatches)
        self.packages = [m.package for m in mismatches]


class MissingHashError(IntegrityError):
    """A lock entry has no hashes, which --deploy does not allow."""

    def __init__(self, package: str, *, path: str | None = None) -> None:
        super().__init__(
            f"{path + ': ' if path else ''}{package} has no hashes in the lock",
            hint="re-create the lock with `thoth-pip lock`",
        )
        self.package = package


class InstallError(ThothPipError):
    """Installing into the target environment failed; the environment was restored."""

    def __init__(
        self, message: str, *, distribution: str | None = None, hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.distribution = distribution


class UnsafeWheel(InstallError):
    """A wheel that tries to escape its target, lies in its RECORD, or is a zip bomb.

    ``url`` is where it came from (credentials hidden), once the pipeline knows it."""

    def __init__(
        self, message: str, *, distribution: str | None = None, hint: str | None = None, url: str | None = None
    ) -> None:
        super().__init__(message, distribution=distribution, hint=hint)
        self.url = url


class BuildError(InstallError):
    """Building a wheel from an sdist, a path or a VCS checkout failed."""

    def __init__(self, message: str, *, distribution: str | None = None, output: str = "") -> None:
        super().__init__(message, distribution=distribution)
        self.output = output


class EnvironmentBusy(InstallError):
    """Another thoth-pip process holds the environment's install lock."""

    def __init__(self, path: str, timeout: float) -> None:
        super().__init__(
            f"another install into {path} is running; gave up after waiting {timeout:g}s",
            hint="wait for it to finish, or set PIPENV_INSTALL_TIMEOUT",
        )
        self.path = path
