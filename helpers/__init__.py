"""helpers: the small library behind the deep-learning workbook notebooks.

Modules (and the notebooks that introduce them):

- ``paths``      the run layout: profiles, where data, stored runs, figures, metrics, reports live (01)
- ``parameters`` one set of effective parameters per run: profiles, explicit values, checks (01)
- ``data``       named data sets, idx loading with validation, in-memory batches, samplers (01)
- ``training``   seeding, device choice, the ``Trainer`` with history, callbacks, resume (01)
- ``checkpoint`` atomic save, safe ``weights_only`` load, stored runs per configuration (01)
- ``metrics``    accuracy, confusion matrices, the metrics JSON file (01)
- ``plots``      image grids, curves, confusion matrices, (01)
- ``notebook``   ``start_notebook``: the setup call of every notebook (01)
- ``engine``     the from-scratch CNN with hand-written backprop and optimizers (01, 001)
- ``engine_study``, ``theory``  the 001 study and the theory checks around it (01)
- ``latent``     latent-space numbers: class distances, silhouette, principal angles, random codes (02, 05)
- ``search``     the grid search of 003.2 (02)
- ``transfer``   feature caching and the offline transfer study (03)
- ``noise``, ``compression``  corruption processes; compression ratios and PSNR (04)
- ``gan_training``, ``sample_scores``, ``kuzushiji``  the GAN loop, sample scores (Fréchet distance, confidence, coverage), the Kuzushiji-Kanji downloader (05)
- ``models``     classifiers, autoencoders, backbones, denoisers, GAN (01-05)
- ``runner``     papermill batch runner over the notebooks and profiles (``python -m helpers.runner``)
- ``report``     PDF/HTML export of executed notebooks with nbconvert
"""

__version__ = "0.1.0"
