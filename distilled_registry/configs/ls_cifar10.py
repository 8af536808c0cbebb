"""Label Solve on CIFAR-10: one config per set the authors published, ConvNet and ConvNet3, with and
without ZCA (figures: their index, ls/ls.csv)."""

from .common import Family, ls_published

FAMILY = Family("ls", "cifar10", ls_published("cifar10", [
    # config, architecture, images per class, zca, test_acc, test_mse
    ("ipc1", "ConvNet", 1, True, 0.2609, 0.042288),
    ("ipc1-nozca", "ConvNet", 1, False, 0.2629, 0.042285),
    ("ipc1-convnet3", "ConvNet3", 1, True, 0.2651, 0.042152),
    ("ipc1-convnet3-nozca", "ConvNet3", 1, False, 0.2638, 0.042304),
    ("ipc10", "ConvNet", 10, True, 0.5359, 0.034978),
    ("ipc10-nozca", "ConvNet", 10, False, 0.4626, 0.036484),
    ("ipc10-convnet3", "ConvNet3", 10, True, 0.529, 0.03522),
    ("ipc10-convnet3-nozca", "ConvNet3", 10, False, 0.4644, 0.036509),
    ("ipc50", "ConvNet", 50, True, 0.6589, 0.029552),
    ("ipc50-nozca", "ConvNet", 50, False, 0.5737, 0.032066),
    ("ipc50-convnet3", "ConvNet3", 50, True, 0.6548, 0.029904),
    ("ipc50-convnet3-nozca", "ConvNet3", 50, False, 0.5689, 0.032244),
]))
get_config = FAMILY.get_config  # config name -> its DistillConfig
