"""KIP on MNIST: the ConvNet kernel (NeurIPS 2021) and the FC kernel with ICLR 2021's figures."""

from .common import Family, kip_convnet, kip_fc

_CONVNET = kip_convnet("mnist")
_FC = kip_fc("mnist", {1: 0.855, 10: 0.972, 50: 0.984})  # ICLR 2021, KIP-FC KRR test accuracy
FAMILY = Family("kip", "mnist", {k: c for ipc in (1, 10, 50)
                                 for k, c in ((f"ipc{ipc}", _CONVNET[f"ipc{ipc}"]), (f"ipc{ipc}-fc", _FC[f"ipc{ipc}-fc"]))})
