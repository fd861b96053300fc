class VisionDataset(object):
    def __init__(self, root, transform=None, *args, **kwargs):
        self.root, self.transform = root, transform
