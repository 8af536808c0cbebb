"""The two papers every release comes from, and the authors' index: the one place they are written.

Provenance (``algorithm.paper``), the catalog's paper figures (``reference`` keys), the TFDS
builders (``DatasetInfo`` homepage and citation, each family's ``CITATIONS.bib``) and the Hugging
Face cards all read them from here.
"""

from __future__ import annotations

HOMEPAGE = "https://github.com/google-research/google-research/tree/master/kip"
AUTHORS = "Timothy Nguyen, Roman Novak, Lechao Xiao, Jaehoon Lee"  # of the published files (NeurIPS 2021)

KIP_ICLR2021 = {
    "title": "Dataset Meta-Learning from Kernel Ridge-Regression",
    "authors": "Timothy Nguyen, Zhourong Chen, Jaehoon Lee",
    "venue": "ICLR 2021",
    "url": "https://arxiv.org/abs/2011.00050",
}
KIP_NEURIPS2021 = {
    "title": "Dataset Distillation with Infinitely Wide Convolutional Networks",
    "authors": AUTHORS,
    "venue": "NeurIPS 2021",
    "url": "https://arxiv.org/abs/2107.13034",
}

# The short citations the catalog's ``paper.reference`` keys name.
REFERENCES = {
    "kip_iclr2021": "Nguyen, Chen, Lee. Dataset Meta-Learning from Kernel Ridge Regression. ICLR 2021",
    "neurips2021": "Nguyen, Novak, Xiao, Lee. Dataset Distillation with Infinitely Wide Convolutional Networks. "
                   "NeurIPS 2021",
    "ls_index": "The authors' index of their published Label Solve sets, "
                "https://storage.googleapis.com/kip-datasets/ls/ls.csv (test_acc column; 30 rows)",
}

# The paper(s) of each algorithm, as provenance's ``algorithm.paper`` states them: a run made here
# follows the paper that introduced the algorithm; the authors' published KIP files come with both.
RUN_PAPER = {"kip": REFERENCES["kip_iclr2021"], "ls": REFERENCES["neurips2021"]}
PUBLISHED_PAPER = {"kip": f"{REFERENCES['kip_iclr2021']}; {REFERENCES['neurips2021']}",
                   "ls": REFERENCES["neurips2021"]}

ALGORITHMS = {
    "kip": "Kernel Inducing Points (KIP)",
    "ls": "Label Solve (LS)",
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
