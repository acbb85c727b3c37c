"""helpers: the small library behind the deep-learning workbook notebooks.

Modules (and the notebooks that introduce them):

- ``paths``      where data, figures, checkpoints and run outputs live (all notebooks)
- ``data``       named data sets, idx loading with validation, in-memory batches, samplers (01)
- ``training``   seeding, device choice, the ``Trainer`` with history, callbacks, resume (01)
- ``checkpoint`` atomic save and safe ``weights_only`` load (01)
- ``metrics``    accuracy, confusion matrices, the metrics JSON file (01)
- ``plots``      image grids, curves, confusion matrices, saved under ``figures/`` (01)
- ``notebook``   ``start_notebook``: the standard first cell of every notebook (01)
- ``models``     classifiers, autoencoders, GAN, pretrained backbones (01-05)
- ``run``        papermill runner over the notebooks and profiles (``python -m helpers.run``)
- ``report``     PDF/HTML export of executed notebooks with nbconvert
"""

__version__ = "0.1.0"
