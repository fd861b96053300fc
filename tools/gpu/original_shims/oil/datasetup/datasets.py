# Shim: names imported by lie_conv/datasets.py and the example scripts; not used by the harness.
class EasyIMGDataset(object):
    pass


def split_dataset(dataset, splits):
    raise NotImplementedError("shim: split_dataset is not available")
