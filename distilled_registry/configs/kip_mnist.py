"""KIP on MNIST: the ConvNet kernel (NeurIPS 2021) and the FC kernel with ICLR 2021's figures."""

from .common import Family, kip_convnet_and_fc

# ICLR 2021, KIP-FC KRR test accuracy per images per class
FAMILY = Family("kip", "mnist", kip_convnet_and_fc("mnist", {1: 0.855, 10: 0.972, 50: 0.984}))
get_config = FAMILY.get_config  # config name -> its DistillConfig
