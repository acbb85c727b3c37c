"""Models of the workbook, plain ``nn.Module``s with a shape comment on every layer.

- ``classifiers``  CNN classifiers: 002.P4.2's 40-filter CNN, 004.Ex1's sequential, inception-style
  and residual networks, the pytorch/examples MNIST net (01, benchmarks)
"""
