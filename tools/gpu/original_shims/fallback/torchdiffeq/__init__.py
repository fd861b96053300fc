# Fallback used only when the real torchdiffeq is not installed (this folder is LAST on sys.path).
# Same arithmetic as torchdiffeq's fixed-grid method='rk4' with no step_size: the integration grid is t itself
# and each interval takes one step of the 3/8-rule RK4 (rk4_alt_step_func: 4 evaluations per step).
import torch


def odeint(func, y0, t, rtol=1e-7, atol=1e-9, method=None, options=None, **kwargs):
    if method != 'rk4':
        raise NotImplementedError("torchdiffeq fallback implements method='rk4' only")
    t = t.to(device=y0.device, dtype=y0.dtype) if torch.is_tensor(t) else torch.tensor(t, dtype=y0.dtype, device=y0.device)
    ys = [y0]
    y = y0
    for i in range(len(t) - 1):
        t0, t1 = t[i], t[i + 1]
        dt = t1 - t0
        k1 = func(t0, y)
        k2 = func(t0 + dt / 3, y + dt * k1 / 3)
        k3 = func(t0 + dt * 2 / 3, y + dt * (k2 - k1 / 3))
        k4 = func(t1, y + dt * (k1 - k2 + k3))
        y = y + (k1 + 3 * (k2 + k3) + k4) * dt * 0.125
        ys.append(y)
    return torch.stack(ys)


odeint_adjoint = odeint
