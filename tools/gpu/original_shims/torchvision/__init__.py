# Stub: lie_conv/datasets.py imports torchvision only for dataset classes the harness never uses.
from torchvision import transforms, datasets  # noqa: F401
