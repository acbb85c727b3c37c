"""Models of the workbook, plain ``nn.Module``s with a shape comment on every layer.

- ``classifiers``   CNN classifiers: 002.P4.2's 40-filter CNN, 004.Ex1's sequential, inception-style
  and residual networks, the pytorch/examples MNIST net (01; reused by 03 and 05)
- ``autoencoders``  000's conv encoder/decoder/MLP head, 002.P5.4's MLP AE, 002.P6's 2-D CAE with
  optional skips (02; reused by 04 and 05)
- ``backbones``     torchvision ImageNet backbones (``weights=`` API), heads, freezing (03)
- ``denoising``     004.Ex3's shallow dense AE (shared-weight encoder/decoder) and conv denoiser (04)
- ``gan``           the DCGAN generator and discriminator (05)
"""
