"""Label Solve on CIFAR-100: one config per set the authors published (figures: their index)."""

from .common import Family, ls_published

FAMILY = Family("ls", "cifar100", ls_published("cifar100", [
    # config, architecture, images per class, zca, test_acc, test_mse
    ("ipc1", "ConvNet", 1, True, 0.2381, 0.004734),
    ("ipc1-nozca", "ConvNet", 1, False, 0.1807, 0.004739),
    ("ipc5", "ConvNet", 5, True, 0.3493, 0.00454),
    ("ipc5-nozca", "ConvNet", 5, False, 0.2754, 0.00456),
    ("ipc10", "ConvNet", 10, True, 0.3917, 0.004436),
    ("ipc10-nozca", "ConvNet", 10, False, 0.3127, 0.004469),
]))
get_config = FAMILY.get_config  # config name -> its DistillConfig
