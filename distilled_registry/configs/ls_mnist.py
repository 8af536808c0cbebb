"""Label Solve on MNIST: one config per set the authors published (figures: their index, ls/ls.csv)."""

from .common import Family, ls_published

FAMILY = Family("ls", "mnist", ls_published("mnist", [
    # config, architecture, images per class, zca, test_acc, test_mse
    ("ipc1", "ConvNet", 1, False, 0.7335, 0.027602),
    ("ipc10", "ConvNet", 10, False, 0.9639, 0.00946),
    ("ipc50", "ConvNet", 50, False, 0.9828, 0.005096),
]))
get_config = FAMILY.get_config  # config name -> its DistillConfig
