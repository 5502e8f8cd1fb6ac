"""Pre-night simulations without downloaded data: site data, the default survey, the runner.

Importing the package first makes astropy safe offline (:func:`configure_offline_astropy`),
before any of its modules can compute a coordinate.
"""

from .offline import configure_offline_astropy

configure_offline_astropy()

from .config_loader import SchedulerConfig, load_scheduler_config  # noqa: E402
from .preload import preload_visits, visits_to_observations  # noqa: E402
from .runner import SimulationResult, run_simulation, run_simulations  # noqa: E402
from .site_data import SiteData, prepare_site_data  # noqa: E402
from .sky import ApproximateSkyModel  # noqa: E402
from .variants import DEFAULT_VARIANTS, SimulationVariant  # noqa: E402

__all__ = [
    "DEFAULT_VARIANTS",
    "ApproximateSkyModel",
    "SchedulerConfig",
    "SimulationResult",
    "SimulationVariant",
    "SiteData",
    "configure_offline_astropy",
    "load_scheduler_config",
    "preload_visits",
    "prepare_site_data",
    "run_simulation",
    "run_simulations",
    "visits_to_observations",
]
