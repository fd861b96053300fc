#!/usr/bin/env python3
"""Times the training step of the ORIGINAL Python LieConv (Finzi et al. 2020) for issue 7's configurations.

This file holds no code of the original: it imports the original's classes from a local, uncommitted copy
(--original: .original/ with the original's lie_conv/ and corm_data/collate.py, made by tools/gpu/fetch_original.sh),
with stand-ins of ours for the packages it imports but a step does not need (tools/gpu/original_shims/)
and builds each configuration as the original's example scripts do (examples/train_img.py, train_molec.py,
train_springs.py). One training step = the original trainer's step: optimizer.zero_grad(), loss = trainer.loss(mb)
(the original's MoleculeTrainer / IntegratedDynamicsTrainer loss; cross-entropy for the image classifier),
loss.backward(), optimizer.step() (Adam). Inference = the model in eval mode under torch.no_grad() on the same batch.

usage (repository root):
  python3 tools/gpu/original_baseline.py --original .original --device cuda --steps 10 --warmup 2 \
      [--configs rotmnist-t2,qm9-t3,...] [--qm9 PATH/test.npz] [--budget-s 60] [--isolate]

Prints one JSON line per configuration on stdout (errors as {"config":..., "error":...}); diagnostics on stderr.
BASELINE_THREADS=n sets torch.set_num_threads(n) (otherwise torch's default, e.g. from OMP_NUM_THREADS).
Runs on torch 1.13 and 2.x.
"""
import argparse
import functools
import gc
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
import traceback

CONFIGS = ['rotmnist-t2', 'rotmnist-so2', 'rotmnist-trivial', 'rotmnist-se2',
           'qm9-t3', 'qm9-se3', 'springs-hlieresnet-t2', 'springs-fc']

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..'))
QM9_CANDIDATES = ['../shared/data/qm9/lieconv_npz/test.npz', '.gpu/shared/data/qm9/lieconv_npz/test.npz']


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--original', default='.original', help='folder with the original lie_conv/ and the shims')
    p.add_argument('--device', default='cuda', choices=['cuda', 'cpu'])
    p.add_argument('--steps', type=int, default=10, help='timed steps (training and inference each)')
    p.add_argument('--warmup', type=int, default=2, help='untimed steps before timing')
    p.add_argument('--configs', default=','.join(CONFIGS), help='comma-separated subset of: ' + ','.join(CONFIGS))
    p.add_argument('--qm9', default=None, help='QM9 npz (default: first existing of %s)' % ', '.join(QM9_CANDIDATES))
    p.add_argument('--budget-s', type=float, default=60.0,
                   help='per configuration: the timed training loop stops after this many seconds, the timed '
                        'inference loop after half of it (at least one timed step each)')
    p.add_argument('--isolate', action='store_true',
                   help='run each configuration in its own process (per-configuration peak RSS on cpu)')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--grad-workaround', action='store_true',
                   help='if torch.autograd.grad(h, z) in the original HamiltonianDynamics fails with "could not '
                        'compute gradients for some functions" (torch 1.13 pruning bug), retry asking for the '
                        'parameter grads too (NOT the original cost: much slower; flagged in the JSON line)')
    return p.parse_args(argv)


SHIMS = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'original_shims')


def setup_imports(original):
    original = os.path.abspath(original)
    if not os.path.isdir(os.path.join(original, 'lie_conv')):
        raise SystemExit('no lie_conv/ under %s (tools/gpu/fetch_original.sh makes it)' % original)
    # original_shims/ first (oil, stubs for torchvision/PIL/h5py/matplotlib/torch_geometric, corm_data.utils), then
    # the original's code (corm_data is a namespace package over both folders); original_shims/fallback/
    # (torchdiffeq) last, so that a real torchdiffeq is used when installed.
    sys.path.insert(0, original)
    sys.path.insert(0, SHIMS)
    sys.path.append(os.path.join(SHIMS, 'fallback'))


def find_qm9(path):
    if path:
        return path
    for cand in QM9_CANDIDATES:
        for base in (os.getcwd(), REPO):
            full = os.path.normpath(os.path.join(base, cand))
            if os.path.isfile(full):
                return full
    return None


# ----------------------------------------------------------------------------------------------------------------
# Configuration builders. Each returns a dict with: model, trainer, batch (the minibatch, on the device),
# infer (a function running one inference batch), batch_size, points, lr, plus extra info.

def build_rotmnist(group_name, device, args):
    import torch
    from torch.optim import Adam
    from lie_conv.lieConv import ImgLieResnet
    from lie_conv.lieGroups import T, SO2, SE2, Trivial
    from lie_conv.datasets import MnistRotDataset
    from oil.model_trainers.classifier import Classifier
    # README / issue 7: --net_config "{'k':128,'total_ds':.1,'fill':.1,'nbhd':25,'group':G}" --bs 25 --lr .003 --aug=True
    group, liftsamples = {'t2': (T(2), 1), 'so2': (SO2(.2), 1), 'trivial': (Trivial(2), 1),
                          'se2': (SE2(.05), 2)}[group_name]
    bs, lr = 25, 3e-3
    net = ImgLieResnet(num_targets=MnistRotDataset.num_targets, k=128, total_ds=.1, fill=.1, nbhd=25,
                       group=group, liftsamples=liftsamples).to(device)
    # train_img.py: aug=True wraps the network with the dataset's default_aug_layers() (RandomRotateTranslate(0))
    model = torch.nn.Sequential(MnistRotDataset.default_aug_layers(None), net)
    x = torch.randn(bs, 1, 28, 28).to(device)           # normalized 28x28 images (values do not change the cost)
    y = torch.randint(0, 10, (bs,)).to(device)
    trainer = Classifier(model, {}, functools.partial(Adam, lr=lr), lambda e: 1.0)
    # points per image after the original's centre crop (coords.norm() < 15 on a linspace(-14,14,28) grid), x lifts
    i = torch.linspace(-28 / 2., 28 / 2., 28)
    n = int((torch.stack([i[:, None].expand(28, 28), i[None, :].expand(28, 28)], -1).norm(dim=-1) < 15.).sum())

    def infer():
        with torch.no_grad():
            return model(x)
    return dict(model=model, trainer=trainer, batch=(x, y), infer=infer, batch_size=bs,
                points=n * liftsamples, liftsamples=liftsamples, lr=lr)


def build_qm9(group_name, device, args):
    import numpy as np
    import torch
    from torch.optim import Adam
    from lie_conv.lieGroups import T, SE3
    from lie_conv.moleculeTrainer import MolecLieResNet, MoleculeTrainer
    from corm_data.collate import collate_fn
    from oil.utils.utils import LoaderTo
    path = find_qm9(args.qm9)
    if not path or not os.path.isfile(path):
        raise FileNotFoundError('QM9 npz not found (tried %s); pass --qm9' % ', '.join(QM9_CANDIDATES))
    bs, lr, task = 75, 3e-3, 'homo'
    data = np.load(path)
    # corm_data's processed QM9: every tensor padded to 29 atoms, one_hot = charges == [1,6,7,8,9],
    # targets converted to eV by QM9datasets (homo x 27.2114); num_species 5, charge_scale 9.
    species = torch.tensor([1, 6, 7, 8, 9])
    homo_all = torch.from_numpy(np.asarray(data['homo'], dtype=np.float64)) * 27.2114
    median = homo_all.median()
    ds_stats = (float(median), float((homo_all - median).abs().median()))
    mols = []
    for m in range(bs):
        charges = torch.from_numpy(np.asarray(data['charges'][m]))
        mols.append({'num_atoms': torch.tensor(int(data['num_atoms'][m])),
                     'charges': charges,
                     'positions': torch.from_numpy(np.asarray(data['positions'][m])),
                     'one_hot': charges.unsqueeze(-1) == species.unsqueeze(0),
                     'homo': torch.tensor(float(data['homo'][m]) * 27.2114)})
    mb = LoaderTo.move(collate_fn(mols), device)     # pads/trims to the batch's max atoms, as the original's loader
    # train_molec.py defaults: k 1536, nbhd 100, swish, bn, aug, mean, 6 layers; README: fill 1. for T(3)
    cfg = dict(k=1536, nbhd=100, act='swish', bn=True, aug=True, mean=True, num_layers=6)
    if group_name == 't3':
        cfg.update(group=T(3), fill=1.0, liftsamples=1)
    else:
        cfg.update(group=SE3(.2), fill=.5, liftsamples=4, nbhd=25)
    model = MolecLieResNet(5, 9, **cfg).to(device)
    trainer = MoleculeTrainer(model, {}, functools.partial(Adam, lr=lr), lambda e: 1.0, task=task, ds_stats=ds_stats)

    def infer():
        with torch.no_grad():
            return model(mb)
    return dict(model=model, trainer=trainer, batch=mb, infer=infer, batch_size=bs,
                points=int(mb['charges'].shape[1]) * cfg['liftsamples'], liftsamples=cfg['liftsamples'], lr=lr,
                qm9=path)


def build_springs(net_name, device, args):
    import torch
    from torch.optim import Adam
    from lie_conv import dynamicsTrainer
    from lie_conv.dynamicsTrainer import IntegratedDynamicsTrainer, FC, HLieResNet
    from lie_conv.datasets import SpringDynamics
    from lie_conv.lieGroups import T
    from oil.utils.utils import Eval, LoaderTo
    bs = 200
    # SpringDynamics: 6 particles in 2D, sysP = (masses, spring constants); trajectories of 500 steps of 0.01
    # (ts = linspace(0, 5, 500)) cut into chunks of chunk_len=5 -> each training example spans 5 time points.
    ds = SpringDynamics.__new__(SpringDynamics)
    ds.space_dim = 2
    z0, sys_params = ds.sample_system(n_systems=bs, space_dim=2)
    ts = torch.linspace(0, 500 * 0.01, 500).double()[:5]
    with torch.no_grad():
        true_zs = dynamicsTrainer.odeint(ds._get_dynamics(sys_params), z0, ts, rtol=1e-8, method='rk4')
    true_zs = true_zs.transpose(1, 0)                                     # (bs, 5, 24)
    sysP = torch.stack(sys_params, dim=-1)                                # (bs, 6, 2)
    mb = LoaderTo.move(((z0, sysP, ts.expand(bs, -1)), true_zs), device, torch.float32)
    if net_name == 'hlieresnet-t2':
        lr = 1e-3   # README: --network HLieResNet --net_cfg "{'group':T(2)}" --lr 1e-3
        model = HLieResNet(sys_dim=SpringDynamics.sys_dim, d=2, group=T(2), k=384, num_layers=4)
    else:
        lr = 1e-2   # train_springs.py default lr (network=FC)
        model = FC(sys_dim=SpringDynamics.sys_dim, d=2, k=256, num_layers=4)
    model = model.to(device=device, dtype=torch.float32)
    trainer = IntegratedDynamicsTrainer(model, {}, lambda params: Adam(params, lr=lr), lambda e: 1.0)
    (z0_d, sysP_d, ts_d), _ = mb

    def infer():   # as IntegratedDynamicsTrainer.get_rollout_mse: Eval(model) + no_grad rollout
        with Eval(model), torch.no_grad():
            return trainer._rollout_model(z0_d, ts_d, sysP_d)
    return dict(model=model, trainer=trainer, batch=mb, infer=infer, batch_size=bs, points=6, liftsamples=1,
                lr=lr, time_points=int(ts.shape[0]),
                torchdiffeq=getattr(sys.modules.get('torchdiffeq'), '__file__', None))


def build(name, device, args):
    family, _, rest = name.partition('-')
    if family == 'rotmnist':
        return build_rotmnist(rest, device, args)
    if family == 'qm9':
        return build_qm9(rest, device, args)
    if family == 'springs':
        return build_springs(rest, device, args)
    raise ValueError('unknown configuration ' + name)


# ----------------------------------------------------------------------------------------------------------------

def sync(device):
    import torch
    if device.type == 'cuda':
        torch.cuda.synchronize()


def timed(fn, steps, warmup, budget_s, device):
    for _ in range(warmup):
        fn()
    sync(device)
    times = []
    start = time.perf_counter()
    for _ in range(max(1, steps)):
        sync(device)
        t0 = time.perf_counter()
        fn()
        sync(device)
        times.append((time.perf_counter() - t0) * 1e3)
        if time.perf_counter() - start > budget_s:
            break
    return times


def run_config(name, device, args):
    import torch
    torch.manual_seed(args.seed)
    import numpy as np
    np.random.seed(args.seed)
    cfg = build(name, device, args)
    model, trainer, batch = cfg['model'], cfg['trainer'], cfg['batch']
    params = sum(p.numel() for p in model.parameters())

    def train_step():
        model.train()
        trainer.step(batch)

    workaround = None
    try:
        train_step()
    except RuntimeError as exc:
        # torch 1.13 (seen with Debian's build) fails torch.autograd.grad(h, z) inside the original's
        # HamiltonianDynamics ("could not compute gradients for some functions": graph pruning with the in-place
        # residual add of BottleBlock); asking for the parameters' gradients too (then dropped) avoids it,
        # at some extra cost. Used only when the plain call fails; reported in the JSON line.
        if 'could not compute gradients' not in str(exc) or not args.grad_workaround:
            raise
        workaround = 'autograd.grad(h,z) also asks for the parameter grads (torch pruning bug); extra cost'
        log('original_baseline: %s: %s -> %s' % (name, one_line(exc), workaround))
        plain_grad = torch.autograd.grad
        extra = [p for p in model.parameters() if p.requires_grad]

        def grad_with_params(outputs, inputs, *a, **kw):
            single = torch.is_tensor(inputs)
            ins = [inputs] if single else list(inputs)
            kw['allow_unused'] = True
            res = plain_grad(outputs, ins + extra, *a, **kw)
            return tuple(res[:len(ins)])
        torch.autograd.grad = grad_with_params   # main() puts the plain one back after every configuration
        train_step()

    # warm-up training steps (untimed): first forward also caches the lifted coordinates / FPS indices
    for _ in range(args.warmup):
        train_step()
    sync(device)
    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats(device)
    train_ms = timed(train_step, args.steps, 0, args.budget_s, device)
    if device.type == 'cuda':
        peak_mb = torch.cuda.max_memory_allocated(device) / 2 ** 20
    else:
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    model.eval()
    infer_ms = timed(cfg['infer'], args.steps, args.warmup, args.budget_s / 2, device)
    model.train()
    out = {'config': name, 'implementation': 'original', 'device': device.type,
           'train_ms': round(statistics.median(train_ms), 3), 'infer_ms': round(statistics.median(infer_ms), 3),
           'peak_mb': round(peak_mb, 1), 'params': int(params), 'batch': cfg['batch_size'], 'points': cfg['points'],
           'liftsamples': cfg['liftsamples'], 'lr': cfg['lr'],
           'train_steps': len(train_ms), 'infer_steps': len(infer_ms),
           'train_ms_min': round(min(train_ms), 3), 'infer_ms_min': round(min(infer_ms), 3),
           'torch': torch.__version__, 'threads': torch.get_num_threads()}
    if workaround:
        out['workaround'] = workaround
    if 'time_points' in cfg:
        out['time_points'] = cfg['time_points']
        out['torchdiffeq'] = 'real' if cfg.get('torchdiffeq') and 'fallback' not in cfg['torchdiffeq'] else 'fallback'
    return out


def one_line(exc):
    return (type(exc).__name__ + ': ' + str(exc)).replace('\n', ' ')[:500]


def main(argv=None):
    args = parse_args(argv)
    names = [c.strip() for c in args.configs.split(',') if c.strip()]
    unknown = [c for c in names if c not in CONFIGS]
    if unknown:
        raise SystemExit('unknown configurations: %s (known: %s)' % (','.join(unknown), ','.join(CONFIGS)))

    if args.isolate and len(names) > 1:
        # one child process per configuration; each prints its own JSON line
        base = [sys.executable, os.path.abspath(__file__), '--original', args.original, '--device', args.device,
                '--steps', str(args.steps), '--warmup', str(args.warmup), '--budget-s', str(args.budget_s),
                '--seed', str(args.seed)] + (['--qm9', args.qm9] if args.qm9 else []) + \
               (['--grad-workaround'] if args.grad_workaround else [])
        for name in names:
            proc = subprocess.run(base + ['--configs', name], stdout=subprocess.PIPE, universal_newlines=True)
            lines = [l for l in proc.stdout.splitlines() if l.strip().startswith('{')]
            if lines:
                for l in lines:
                    print(l, flush=True)
            else:
                print(json.dumps({'config': name, 'error': 'child process exited with %d and no result'
                                  % proc.returncode}), flush=True)
        return 0

    setup_imports(args.original)
    import torch
    threads = os.environ.get('BASELINE_THREADS')
    if threads:
        torch.set_num_threads(int(threads))
    device = torch.device(args.device)
    if device.type == 'cuda':
        if not torch.cuda.is_available():
            raise SystemExit('--device cuda but torch.cuda.is_available() is False')
        dev_name = torch.cuda.get_device_name(0)
    else:
        dev_name = '%s (%s), %d torch threads' % (platform.processor() or platform.machine(), os.cpu_count(),
                                                 torch.get_num_threads())
    log('original_baseline: python %s, torch %s, device %s: %s' % (platform.python_version(), torch.__version__,
                                                                   device.type, dev_name))
    try:
        import torchdiffeq
        log('original_baseline: torchdiffeq from %s' % torchdiffeq.__file__)
    except ImportError:
        log('original_baseline: torchdiffeq not importable')

    plain_grad = torch.autograd.grad
    for name in names:
        t0 = time.time()
        try:
            out = run_config(name, device, args)
            out['wall_s'] = round(time.time() - t0, 1)
            print(json.dumps(out), flush=True)
        except Exception as exc:  # one configuration failing must not stop the others
            traceback.print_exc(file=sys.stderr)
            print(json.dumps({'config': name, 'error': one_line(exc)}), flush=True)
        finally:
            torch.autograd.grad = plain_grad
            gc.collect()
            if device.type == 'cuda':
                torch.cuda.empty_cache()
    return 0


if __name__ == '__main__':
    sys.exit(main())
