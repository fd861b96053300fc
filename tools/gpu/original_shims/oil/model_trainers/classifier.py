# Shim of olive-oil-ml's Classifier trainer: cross-entropy of model(x) against y.
import torch.nn as nn
from oil.model_trainers import Trainer


class Classifier(Trainer):
    def loss(self, minibatch, model=None):
        x, y = minibatch
        if model is None:
            model = self.model
        return nn.CrossEntropyLoss()(model(x), y)
