"""helpers: the small library behind the deep-learning workbook notebooks.

Modules by role (and the notebooks that introduce them). To change how a run is set up, stored or
reported, look in the first group; how data gets in, the second; how a model learns, the third;
the model itself, ``models/``; one assignment's analysis, the topic group.

Workbook machinery (every notebook)
- ``paths``         the run layout: profiles, where data, stored runs, figures, metrics, reports live (01)
- ``parameters``    one set of effective parameters per run: profiles, explicit values, checks (01)
- ``notebook``      ``start_notebook``: the setup call of every notebook; ``run.fit``, figures, metrics (01)
- ``checkpoint``    atomic save, safe ``weights_only`` load, stored runs per configuration (01)
- ``metrics``       accuracy, confusion matrices, PSNR, the metrics JSON file, readable metric names (01)
- ``plots``         image grids, curves, confusion matrices, architecture graphs (01)
- ``frontend``      live JupyterLab frontend or batch run; console lines outside the notebook (01)
- ``explorers``     ipywidgets explorers of trained models, one static figure in batch runs (01, 02, 04, 05)
- ``runner``        papermill batch runner over the notebooks and profiles (``python -m helpers.runner``)
- ``report``        PDF/HTML export of executed notebooks with nbconvert
- ``submission``    one folder and PDF per assignment, the 002 course scripts (``make submission``)
- ``student``       student copies: solutions replaced by stubs (``make student``)

Data
- ``data``          named data sets, idx loading with validation, in-memory batches, samplers (01)
- ``kuzushiji``     the Kuzushiji-Kanji downloader (05)
- ``noise``         corruption processes (04)

Training
- ``training``      seeding, device choice, ``evaluating``, the ``Trainer`` (the one training loop) (01)
- ``gan_training``  the DCGAN loop, on the trainer's stored runs (05)
- ``fast_path``     bf16 / channels_last / ``torch.compile`` per model, chosen by a cached timed probe (01-05)
- ``search``        the grid search of 003.2 through an executor: local process pool or Dask cluster (02)
- ``distributed``   data-parallel training under torchrun: sharded batches, DDP, rank-0 writes (01, 03 in ``full``)

Models: ``models/`` (classifiers, the ``EncoderHead`` composite, autoencoders, backbones,
denoisers, GAN; 01-05)

Topic studies
- ``engine``        the from-scratch CNN with hand-written backprop and optimizers (01, 001)
- ``engine_study``, ``theory``  the 001 study and the numerical checks of the theory answers (01)
- ``latent``        latent-space numbers: class distances, silhouette, principal angles, random codes (02, 05)
- ``transfer``      feature caching and the offline transfer study (03)
- ``compression``   compression ratios and PSNR of codes (04)
- ``sample_scores`` Fréchet distance, confidence and class coverage of generated samples (05)
"""

__version__ = "0.1.0"
