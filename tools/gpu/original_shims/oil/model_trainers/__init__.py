# Shim of olive-oil-ml's Trainer: only what a training step needs (optimizer built from opt_constr,
# step() = zero_grad, loss, backward, optimizer step, as oil's Trainer.step does).
import torch


class Trainer(object):
    def __init__(self, model, dataloaders=None, opt_constr=None, lr_sched=lambda e: 1, log_dir=None,
                 log_suffix='', log_args={}, early_stop_metric=None, **kwargs):
        self.model = model
        self.dataloaders = dataloaders or {}
        self.optimizer = opt_constr(self.model.parameters())
        self.lr_schedulers = [torch.optim.lr_scheduler.LambdaLR(self.optimizer, lr_sched)]
        self.hypers = {}
        self.logger = None
        self.epoch = 0

    def loss(self, minibatch):
        raise NotImplementedError

    def step(self, minibatch):
        self.optimizer.zero_grad()
        loss = self.loss(minibatch)
        loss.backward()
        self.optimizer.step()
        return loss

    def logStuff(self, step, minibatch=None):
        pass


from oil.model_trainers.classifier import Classifier  # noqa: E402
