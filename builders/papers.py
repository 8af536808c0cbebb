"""The two papers every release comes from: BibTeX, links and the homepage of the authors' code.

The TFDS builders put :data:`HOMEPAGE` and :data:`BIBTEX` into ``DatasetInfo`` (and each family's
``CITATIONS.bib``); the Hugging Face dataset cards print them.
"""

from __future__ import annotations

HOMEPAGE = "https://github.com/google-research/google-research/tree/master/kip"

KIP_ICLR2021 = {
    "title": "Dataset Meta-Learning from Kernel Ridge-Regression",
    "authors": "Timothy Nguyen, Zhourong Chen, Jaehoon Lee",
    "venue": "ICLR 2021",
    "url": "https://arxiv.org/abs/2011.00050",
}
KIP_NEURIPS2021 = {
    "title": "Dataset Distillation with Infinitely Wide Convolutional Networks",
    "authors": "Timothy Nguyen, Roman Novak, Lechao Xiao, Jaehoon Lee",
    "venue": "NeurIPS 2021",
    "url": "https://arxiv.org/abs/2107.13034",
}

BIBTEX = """\
@inproceedings{nguyen2021dataset,
  title={Dataset Meta-Learning from Kernel Ridge-Regression},
  author={Timothy Nguyen and Zhourong Chen and Jaehoon Lee},
  booktitle={International Conference on Learning Representations},
  year={2021},
  url={https://openreview.net/forum?id=l-PrrQrK0QR}
}

@inproceedings{nguyen2021datasetdistillation,
  title={Dataset Distillation with Infinitely Wide Convolutional Networks},
  author={Timothy Nguyen and Roman Novak and Lechao Xiao and Jaehoon Lee},
  booktitle={Advances in Neural Information Processing Systems},
  volume={34},
  year={2021},
  eprint={2107.13034},
  archivePrefix={arXiv}
}
"""

ALGORITHMS = {
    "kip": "Kernel Inducing Points (KIP)",
    "ls": "Label Solve (LS)",
}
