"""What is known about each source dataset without loading it: the one place for source facts.

Every reader takes them from here: the catalog (``plan`` needs shapes and split sizes without the
data), the source loaders (``pipelines/sources.py`` checks files against the shapes and classes),
the published-file import (class names, licence) and the loaders' features (class names).
"""

from __future__ import annotations

import dataclasses

_CIFAR100 = (
    "apple aquarium_fish baby bear beaver bed bee beetle bicycle bottle bowl boy bridge bus butterfly camel can "
    "castle caterpillar cattle chair chimpanzee clock cloud cockroach couch crab crocodile cup dinosaur dolphin "
    "elephant flatfish forest fox girl hamster house kangaroo keyboard lamp lawn_mower leopard lion lizard "
    "lobster man maple_tree motorcycle mountain mouse mushroom oak_tree orange orchid otter palm_tree pear "
    "pickup_truck pine_tree plain plate poppy porcupine possum rabbit raccoon ray road rocket rose sea seal "
    "shark shrew skunk skyscraper snail snake spider squirrel streetcar sunflower sweet_pepper table tank "
    "telephone television tiger tractor train trout tulip turtle wardrobe whale willow_tree wolf woman worm").split()
_DIGITS = [str(i) for i in range(10)]


@dataclasses.dataclass(frozen=True)
class Source:
    """One source dataset.

    Attributes:
      name: the registry's name (a TFDS name where TFDS has the dataset).
      image_shape: ``(H, W, C)`` of every image.
      class_names: the ``C`` class names, in label order.
      train_size, test_size: images in the splits the registry uses.
      licence: an SPDX identifier, or ``"unknown"`` where the authors state none.
      homepage: where the dataset is described.
      tfds_name: its TFDS name (None: not in TFDS; the embedded scikit-learn digits).
      pixel_max: the largest raw pixel value (images are scaled by it into ``[0, 1]``).
    """

    name: str
    image_shape: tuple[int, int, int]
    class_names: tuple[str, ...]
    train_size: int
    test_size: int
    licence: str
    homepage: str
    tfds_name: str | None
    pixel_max: int

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def to_dict(self) -> dict:
        """The catalog's view: ``image_shape``, ``num_classes``, split sizes, ``class_names``, licence, homepage."""
        return {"image_shape": list(self.image_shape), "num_classes": self.num_classes,
                "train_size": self.train_size, "test_size": self.test_size, "class_names": list(self.class_names),
                "licence": self.licence, "homepage": self.homepage}


SOURCES: dict[str, Source] = {s.name: s for s in (
    # scikit-learn's digits, split stratified 25% test (pipelines.sources.DIGITS_SPLIT)
    Source("digits", (8, 8, 1), tuple(_DIGITS), 1347, 450, "BSD-3-Clause", "https://archive.ics.uci.edu/dataset/80",
           None, 16),
    Source("mnist", (28, 28, 1), tuple(_DIGITS), 60000, 10000, "CC-BY-SA-3.0", "http://yann.lecun.com/exdb/mnist/",
           "mnist", 255),
    Source("fashion_mnist", (28, 28, 1),
           ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
           60000, 10000, "MIT", "https://github.com/zalandoresearch/fashion-mnist", "fashion_mnist", 255),
    Source("svhn_cropped", (32, 32, 3), tuple(_DIGITS), 73257, 26032, "unknown",
           "http://ufldl.stanford.edu/housenumbers/", "svhn_cropped", 255),
    Source("cifar10", (32, 32, 3),
           ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
           50000, 10000, "unknown", "https://www.cs.toronto.edu/~kriz/cifar.html", "cifar10", 255),
    Source("cifar100", (32, 32, 3), tuple(_CIFAR100), 50000, 10000, "unknown",
           "https://www.cs.toronto.edu/~kriz/cifar.html", "cifar100", 255),
)}


def get(name: str) -> Source:
    """The facts of source ``name``; KeyError naming the known sources when there is none."""
    try:
        return SOURCES[name]
    except KeyError:
        raise KeyError(f"unknown source {name!r}; known: {', '.join(SOURCES)}") from None


def class_names(name: str, num_classes: int | None = None) -> list[str]:
    """The class names of source ``name``: ``"0"``, ``"1"``, ... for an unknown source of ``num_classes``
    (or a known one whose class count is not ``num_classes``)."""
    if name in SOURCES and num_classes in (None, SOURCES[name].num_classes):
        return list(SOURCES[name].class_names)
    if num_classes is None:
        raise KeyError(f"unknown source {name!r} and no class count; known: {', '.join(SOURCES)}")
    return [str(i) for i in range(num_classes)]
