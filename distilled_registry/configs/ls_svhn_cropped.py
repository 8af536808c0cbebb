"""Label Solve on SVHN: one config per set the authors published, with and without ZCA (figures: their index)."""

from .common import Family, ls_published

FAMILY = Family("ls", "svhn_cropped", ls_published("svhn_cropped", [
    # config, architecture, images per class, zca, test_acc, test_mse
    ("ipc1", "ConvNet", 1, True, 0.239052, 0.043638),
    ("ipc1-nozca", "ConvNet", 1, False, 0.211048, 0.043967),
    ("ipc10", "ConvNet", 10, True, 0.527812, 0.034181),
    ("ipc10-nozca", "ConvNet", 10, False, 0.400469, 0.038717),
    ("ipc50", "ConvNet", 50, True, 0.768362, 0.02439),
    ("ipc50-nozca", "ConvNet", 50, False, 0.692263, 0.029268),
]))
get_config = FAMILY.get_config  # config name -> its DistillConfig
