"""Loading the scheduler configuration to simulate, the way production's config scripts work.

Production pre-night runs take a configuration script (``ts_config_scheduler``'s
``fbs_config_*.py``) whose ``get_scheduler()`` returns ``(nside, scheduler)``. vseq accepts:

- a Python file, as a local path or any URL ``lsst.resources`` reads (``file://``, ``s3://``,
  ``https://``); its ``get_scheduler()`` is called. The URL (absolute path as ``file://``) is
  recorded as ``config_url`` and the script text as the configuration used;
- ``package.module:function``: an importable function. ``config_url`` is recorded as
  ``python:package.module:function`` and the module's source as the configuration used.

The function may return a ``CoreScheduler``, ``(nside, scheduler)`` as production scripts do, or
either of those followed by a ``ModelObservatory`` to simulate against. Anything else, or any
failure to read, import or run the configuration, is an :class:`InvalidInputError` naming the
source, because a bad configuration is the user's input, not a vseq bug.
"""

from __future__ import annotations

import importlib
import inspect
import re
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lsst.resources import ResourcePath
from rubin_scheduler.scheduler.model_observatory import ModelObservatory
from rubin_scheduler.scheduler.schedulers import CoreScheduler

from ..errors import InvalidInputError

CONFIG_FUNCTION = "get_scheduler"
_MODULE_FUNCTION = re.compile(r"^(?P<module>[A-Za-z_][\w.]*):(?P<function>[A-Za-z_]\w*)$")


@dataclass
class SchedulerConfig:
    """A built scheduler and where it came from."""

    scheduler: CoreScheduler
    nside: int
    observatory: ModelObservatory | None
    config_url: str
    source_text: str


def load_scheduler_config(source: str | Path) -> SchedulerConfig:
    """Build the scheduler described by ``source`` (file path, URL or ``module:function``)."""
    config_url, source_text, func = _locate(source)
    try:
        returned = func()
    except Exception as err:
        raise InvalidInputError(f"scheduler configuration {config_url} failed: {err!r}") from err
    scheduler, nside, observatory = _unpack(returned, config_url)
    return SchedulerConfig(scheduler, nside, observatory, config_url, source_text)


def check_scheduler_source(source: str | Path) -> str:
    """Check, without building the scheduler, that ``source`` can be loaded: the module imports
    and has the function, or the script exists, is read as UTF-8 text and compiles. Returns the
    ``config_url`` it would record; `InvalidInputError` (one line naming the source) otherwise.

    Callers use it to fail before a long run starts rather than in its simulation step.
    """
    text = str(source).strip()
    if not text:
        raise InvalidInputError("the scheduler configuration is empty: give a .py file or module:function")
    match = _MODULE_FUNCTION.match(text)
    if match and not Path(text).exists():
        _import_function(match["module"], match["function"])
        return f"python:{text}"
    config_url, source_text = _read_script(text)
    try:
        compile(source_text, config_url, "exec")
    except SyntaxError as err:
        raise InvalidInputError(
            f"scheduler configuration {config_url} is not valid Python: {err.msg} (line {err.lineno})"
        ) from None
    return config_url


def config_identity(source: str | Path) -> tuple[str, str]:
    """``(config_url, source_text)`` of a configuration, as :func:`load_scheduler_config` records
    them, without building its scheduler (a module is imported, a script only read)."""
    config_url, source_text, _ = _locate(source, define=False)
    return config_url, source_text


def _locate(source: str | Path, define: bool = True) -> tuple[str, str, Any]:
    """The configuration's URL, its text and (with ``define``) its get_scheduler function."""
    text = str(source).strip()
    match = _MODULE_FUNCTION.match(text)
    if match and not Path(text).exists():
        func, module = _import_function(match["module"], match["function"])
        return f"python:{text}", _module_source(module), func
    config_url, source_text = _read_script(text)
    return config_url, source_text, _script_function(source_text, config_url) if define else None


def _import_function(module_name: str, function: str) -> tuple[Any, types.ModuleType]:
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise InvalidInputError(
            f"cannot import scheduler configuration module {module_name!r}: {err} (install it, or "
            "correct the name: package.module:function)"
        ) from err
    except Exception as err:
        raise InvalidInputError(
            f"scheduler configuration module {module_name!r} failed to import: {err!r}"
        ) from err
    func = getattr(module, function, None)
    if not callable(func):
        raise InvalidInputError(
            f"scheduler configuration module {module_name!r} has no function {function!r} (name a "
            "function it defines: package.module:function)"
        )
    return func, module


def _module_source(module: types.ModuleType) -> str:
    try:
        return inspect.getsource(module)
    except (OSError, TypeError):
        return ""


def _read_script(location: str) -> tuple[str, str]:
    if "://" in location:
        resource = ResourcePath(location)
    else:
        resource = ResourcePath(Path(location).expanduser().resolve().as_uri())
    if not resource.path.endswith(".py"):
        raise InvalidInputError(
            f"scheduler configuration {location!r} is neither a .py file nor module:function (give "
            "the path or URL of a .py script, or package.module:function)"
        )
    try:
        data = resource.read()
    except FileNotFoundError as err:
        raise InvalidInputError(
            f"scheduler configuration {resource} does not exist (give the path or URL of an existing .py "
            "script)"
        ) from err
    except Exception as err:
        raise InvalidInputError(f"cannot read scheduler configuration {resource}: {err!r}") from err
    try:
        return str(resource), data.decode()
    except UnicodeDecodeError as err:
        raise InvalidInputError(f"scheduler configuration {resource} is not UTF-8 text") from err


def _script_function(source_text: str, config_url: str) -> Any:
    """Execute the script as a fresh module (never ``__main__``) and return its get_scheduler."""
    module = types.ModuleType("vseq_scheduler_config")
    module.__file__ = config_url
    try:
        exec(compile(source_text, config_url, "exec"), module.__dict__)
    except Exception as err:
        raise InvalidInputError(f"scheduler configuration {config_url} failed to load: {err!r}") from err
    func = module.__dict__.get(CONFIG_FUNCTION)
    if not callable(func):
        raise InvalidInputError(f"scheduler configuration {config_url} defines no {CONFIG_FUNCTION}()")
    return func


def _unpack(returned: Any, config_url: str) -> tuple[CoreScheduler, int, ModelObservatory | None]:
    items = list(returned) if isinstance(returned, tuple | list) else [returned]
    schedulers = [x for x in items if isinstance(x, CoreScheduler)]
    observatories = [x for x in items if isinstance(x, ModelObservatory)]
    nsides = [x for x in items if isinstance(x, int) and not isinstance(x, bool)]
    if len(schedulers) != 1 or len(observatories) > 1 or len(nsides) > 1 or len(items) > 3:
        raise InvalidInputError(
            f"scheduler configuration {config_url} returned {type(returned).__name__}: expected a "
            "CoreScheduler or (nside, scheduler), optionally followed by a ModelObservatory"
        )
    scheduler = schedulers[0]
    nside = nsides[0] if nsides else scheduler.nside
    return scheduler, nside, observatories[0] if observatories else None
