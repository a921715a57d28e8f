"""Importing step modules: the built-in library, and what `--steps` names.

`--steps` takes a `.py` file, a folder of them, or a dotted module name. The built-in
library is the package `steps` installed with the harness, found by its location next
to `harness/`: `python -m harness` puts the current directory first on sys.path, and a
project's own `steps/` folder there must never stand in for the library (it is loaded
only when named with `--steps`, and then beside the library, under a name of its own).
Any failure while importing is a StepLoadError naming the file and line.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import traceback
from pathlib import Path
from types import ModuleType

BUILTIN = "steps"
BUILTIN_DIR = Path(__file__).resolve().parents[2] / BUILTIN
BUILTIN_LIBRARY = "<built-in steps>"  # what the command line always loads (cli.py)


class StepLoadError(Exception):
    """A step module failed to import; the message names the file and line."""


def load_module(name: str) -> None:
    """Import one `--steps` entry (or the built-in library) and every module it holds."""
    path = Path(name)
    try:
        if (
            name == BUILTIN_LIBRARY
            or (path.is_dir() and path.resolve() == BUILTIN_DIR)
            or (name == BUILTIN and not path.exists())
        ):
            _load_builtin()
        elif path.is_dir():
            _load_folder(path)
        elif name.endswith(".py") or path.is_file():
            if not path.is_file():
                raise StepLoadError(f"{name}: no such step file")
            _load_file(path, _private_name(path))
        else:
            _import_package(name)
    except StepLoadError:
        raise
    except SyntaxError as exc:
        raise StepLoadError(
            f"{exc.filename}:{exc.lineno}: syntax error in a step module: {exc.msg}"
        ) from None
    except ModuleNotFoundError as exc:
        if exc.name and name.split(".")[0] == exc.name.split(".")[0] and not path.exists():
            raise StepLoadError(f"--steps {name}: no such file, folder or module") from None
        raise StepLoadError(f"{_where(exc)}: cannot import step module {name!r}: {exc}") from None
    except Exception as exc:  # a step module raised while importing
        raise StepLoadError(
            f"{_where(exc)}: step module {name!r} failed to import: {type(exc).__name__}: {exc}"
        ) from None


def _where(exc: BaseException) -> str:
    """`file:line` of the innermost frame outside the import machinery."""
    frames = [
        f
        for f in traceback.extract_tb(exc.__traceback__)
        if "importlib" not in f.filename and f.filename != __file__
    ]
    return f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "?"


def _load_builtin() -> None:
    loaded = sys.modules.get(BUILTIN)
    if loaded is not None:
        where = Path(getattr(loaded, "__file__", "") or "").resolve().parent
        if where != BUILTIN_DIR:
            raise StepLoadError(
                f"a module named `{BUILTIN}` from {where} was imported before "
                f"the built-in step library ({BUILTIN_DIR}); rename it"
            )
    else:
        _load_file(BUILTIN_DIR / "__init__.py", BUILTIN, package=True)
    _import_submodules(BUILTIN, BUILTIN_DIR)


def _load_folder(folder: Path) -> None:
    folder = folder.resolve()
    name = folder.name
    loaded = sys.modules.get(name)
    taken = (
        loaded is not None
        and Path(getattr(loaded, "__file__", "") or "").resolve().parent != folder
    )
    if (folder / "__init__.py").is_file() and not taken and name.isidentifier():
        # A package under its own name, so its modules may import each other absolutely.
        if str(folder.parent) not in sys.path:
            sys.path.append(str(folder.parent))  # after the library and site-packages
        _import_package(name)
        return
    # A plain folder, or one whose name is taken (e.g. a project's own `steps/`):
    # a package of a private name, so it sits beside the module that has the name.
    package = _private_name(folder)
    init = folder / "__init__.py"
    _load_file(init if init.is_file() else None, package, package=True, folder=folder)
    _import_submodules(package, folder)


def _private_name(path: Path) -> str:
    stem = "".join(c if c.isalnum() else "_" for c in path.resolve().with_suffix("").as_posix())
    return f"_spec_steps_{stem.strip('_')}"


def _load_file(
    path: Path | None, name: str, *, package: bool = False, folder: Path | None = None
) -> ModuleType:
    if name in sys.modules:
        return sys.modules[name]
    folder = folder or (path.parent if path is not None else None)
    locations = [str(folder)] if package and folder is not None else None
    if path is None:  # a folder without __init__.py: an empty package
        spec = importlib.util.spec_from_loader(name, loader=None, is_package=True)
        assert spec is not None
        spec.submodule_search_locations = locations
    else:
        spec = importlib.util.spec_from_file_location(
            name, path, submodule_search_locations=locations
        )
    if spec is None:
        raise StepLoadError(f"{path}: cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        if spec.loader is not None:
            spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def _import_package(name: str) -> None:
    """Import a module and, for a package, every module in it."""
    module = importlib.import_module(name)
    if hasattr(module, "__path__"):
        _import_submodules(name, Path(next(iter(module.__path__))))


def _import_submodules(package: str, folder: Path) -> None:
    for path in sorted(folder.glob("*.py")):
        if path.stem != "__init__":
            importlib.import_module(f"{package}.{path.stem}")
