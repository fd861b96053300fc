# Shim of the parts of olive-oil-ml's oil.utils.utils that the original LieConv imports.
import itertools
import math
import numpy as np
import torch
import torch.nn as nn
from lie_conv.utils import export, Named, Expression, FixedNumpySeed  # same helpers as oil's


class Eval(object):
    """Context manager: puts the model in eval mode (on=True) and restores its mode afterwards."""
    def __init__(self, model, on=True):
        self.model = model
        self.on = on

    def __enter__(self):
        self.training_state = self.model.training
        self.model.train(not self.on)

    def __exit__(self, *args):
        self.model.train(self.training_state)


def _to(x, device, dtype):
    if torch.is_tensor(x):
        if dtype is not None and x.is_floating_point():
            return x.to(device=device, dtype=dtype)
        return x.to(device)
    if isinstance(x, dict):
        return {k: _to(v, device, dtype) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(_to(v, device, dtype) for v in x)
    return x


class LoaderTo(object):
    """Wraps a loader; moves every tensor of every minibatch to device (and floating tensors to dtype)."""
    def __init__(self, loader, device, dtype=None):
        self.loader, self.device, self.dtype = loader, device, dtype

    def __iter__(self):
        return (_to(mb, self.device, self.dtype) for mb in self.loader)

    def __len__(self):
        return len(self.loader)

    @staticmethod
    def move(mb, device, dtype=None):
        return _to(mb, device, dtype)


def islice(iterable, n):
    return itertools.islice(iterable, n)


def cosLr(num_epochs, cycle_mult=1):
    return lambda e: .5 * (1 + math.cos(math.pi * (e % num_epochs) / num_epochs))
