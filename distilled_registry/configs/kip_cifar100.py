"""KIP on CIFAR-100: the ConvNet kernel (NeurIPS 2021), ZCA; the authors published 1 and 10 per class."""

from .common import Family, kip_convnet

FAMILY = Family("kip", "cifar100", kip_convnet("cifar100", ipcs=(1, 10)))
get_config = FAMILY.get_config  # config name -> its DistillConfig
