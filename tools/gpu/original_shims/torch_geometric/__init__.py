# Blocks the optional torch_geometric import in lie_conv/datasets.py (guarded by try/except ImportError).
raise ImportError("torch_geometric blocked by the harness shims")
