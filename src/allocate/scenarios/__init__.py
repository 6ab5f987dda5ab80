"""Built-in benchmark scenarios, deterministic by seed."""

from allocate.scenarios.east_sussex import east_sussex_2011, east_sussex_2011_latent
from allocate.scenarios.scaled import scaled

__all__ = ["east_sussex_2011", "east_sussex_2011_latent", "scaled"]
