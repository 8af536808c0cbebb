"""KIP on CIFAR-10: the ConvNet kernel (NeurIPS 2021) and the FC kernel with ICLR 2021's figures."""

from .common import KIP_CONVNET_NOT_SOURCED, Family, kip_convnet_and_fc

_NOTES = {10: KIP_CONVNET_NOT_SOURCED + (
    "; the project's notes put the paper's best CIFAR-10 ConvNet KIP set of 100 images at about 75%")}
# ICLR 2021, KIP-FC KRR test accuracy per images per class
FAMILY = Family("kip", "cifar10", kip_convnet_and_fc("cifar10", {1: 0.405, 10: 0.531, 50: 0.586}, _NOTES))
get_config = FAMILY.get_config  # config name -> its DistillConfig
