"""KIP on CIFAR-10: the ConvNet kernel (NeurIPS 2021) and the FC kernel with ICLR 2021's figures."""

from .common import KIP_CONVNET_NOT_SOURCED, Family, kip_convnet, kip_fc

_CONVNET = kip_convnet("cifar10", notes={10: KIP_CONVNET_NOT_SOURCED + (
    "; the project's notes put the paper's best CIFAR-10 ConvNet KIP set of 100 images at about 75%")})
_FC = kip_fc("cifar10", {1: 0.405, 10: 0.531, 50: 0.586})  # ICLR 2021, KIP-FC KRR test accuracy
FAMILY = Family("kip", "cifar10", {k: c for ipc in (1, 10, 50)
                                   for k, c in ((f"ipc{ipc}", _CONVNET[f"ipc{ipc}"]), (f"ipc{ipc}-fc", _FC[f"ipc{ipc}-fc"]))})
