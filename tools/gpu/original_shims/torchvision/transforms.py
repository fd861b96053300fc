def Normalize(*args, **kwargs):
    raise NotImplementedError("torchvision stub")


def ToTensor(*args, **kwargs):
    raise NotImplementedError("torchvision stub")


def Compose(*args, **kwargs):
    raise NotImplementedError("torchvision stub")
