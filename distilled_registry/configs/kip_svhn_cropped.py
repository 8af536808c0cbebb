"""KIP on SVHN (cropped digits): the ConvNet kernel (NeurIPS 2021), ZCA."""

from .common import Family, kip_convnet

FAMILY = Family("kip", "svhn_cropped", kip_convnet("svhn_cropped"))
get_config = FAMILY.get_config  # config name -> its DistillConfig
