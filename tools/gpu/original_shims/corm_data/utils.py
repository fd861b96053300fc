# Shim: lie_conv/datasets.py imports initialize_datasets (QM9 download/processing); the harness reads the npz itself.
def initialize_datasets(*args, **kwargs):
    raise NotImplementedError("shim: corm_data.utils.initialize_datasets is not available")
