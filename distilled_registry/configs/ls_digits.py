"""Label Solve on scikit-learn digits: the offline family, FC NTK depth 1."""

from .common import Family, digits

FAMILY = Family("ls", "digits", digits("ls"))
get_config = FAMILY.get_config  # config name -> its DistillConfig
