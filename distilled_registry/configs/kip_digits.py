"""KIP on scikit-learn digits: the offline family (`make demo`), FC NTK depth 1, 300 Adam steps."""

from .common import Family, digits

FAMILY = Family("kip", "digits", digits("kip"))
get_config = FAMILY.get_config  # config name -> its DistillConfig
