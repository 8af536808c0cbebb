"""KIP on Fashion-MNIST: the ConvNet kernel (NeurIPS 2021), no ZCA as the authors' files."""

from .common import Family, kip_convnet

FAMILY = Family("kip", "fashion_mnist", kip_convnet("fashion_mnist"))
get_config = FAMILY.get_config  # config name -> its DistillConfig
