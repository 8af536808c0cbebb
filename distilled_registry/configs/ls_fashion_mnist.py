"""Label Solve on Fashion-MNIST: one config per set the authors published (figures: their index)."""

from .common import Family, ls_published

FAMILY = Family("ls", "fashion_mnist", ls_published("fashion_mnist", [
    # config, architecture, images per class, zca, test_acc, test_mse
    ("ipc1", "ConvNet", 1, False, 0.653, 0.027842),
    ("ipc10", "ConvNet", 10, False, 0.8084, 0.016468),
    ("ipc50", "ConvNet", 50, False, 0.8685, 0.011954),
]))
get_config = FAMILY.get_config  # config name -> its DistillConfig
