"""``vseqarchive``: the shell interface of the visit sequence archive.

The commands, arguments, options, environment variables and printed output of the reference
``vseqarchive`` (``rubin_sim.sim_archive``) are kept so that existing batch scripts run unchanged;
``migrate``, ``search``, ``show``, ``get-visits``, ``verify`` and ``night-review`` are added.

Start-up stays cheap: only ``click`` is imported here, every heavy library (pandas, SQLAlchemy,
lsst.resources) inside the command that needs it.
"""

from __future__ import annotations

from . import admin, files, proto, review, sequences, stats, tagging
from .base import cli

for _module in (sequences, tagging, files, stats, review, proto, admin):
    _module.register(cli)

__all__ = ["cli"]
