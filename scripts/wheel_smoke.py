"""Smoke test of an installed pybitnet (a wheel in a clean environment: cibuildwheel's test step,
docs/DEVELOPING.md "Wheels"): the extension imports on this CPU, every ISA this CPU has gives the
scalar reference's exact answer, and a tiny BNN trains and deploys to the packed engine.
Needs numpy only; run it from outside the source tree so the installed package is the one tested."""
import sys

import numpy as np

import pybitnet
from pybitnet import inference, nn, optim


def main() -> int:
    print(f"pybitnet {pybitnet.__version__} from {pybitnet.__file__}")
    print(f"ISA {pybitnet.isa()} of {pybitnet.available_isas()}; build flags: {pybitnet.build_info()['flags']}")
    assert "march=native" not in pybitnet.build_info()["flags"]
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((7, 300)).astype(np.float32), rng.standard_normal((5, 300)).astype(np.float32)
    want = np.where(a < 0, -1, 1) @ np.where(b < 0, -1, 1).T
    for isa in pybitnet.available_isas():
        got = pybitnet._bitops.xnor_gemm(pybitnet.pack_signs(a), pybitnet.pack_signs(b), 300, isa=isa)
        assert np.array_equal(got, want), isa
    x = rng.standard_normal((64, 20)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    model = nn.Sequential(nn.BinarizedDense(20, 64, binary_input=False), nn.BatchNorm(64), nn.SteSign(),
                          nn.BinarizedDense(64, 2), nn.BatchNorm(2))
    opt, loss_fn = optim.Adam(model.parameters(), 0.01), nn.SquaredHinge()
    for _ in range(30):
        opt.zero_grad()
        loss, grad = loss_fn(model.forward(x), y)
        model.backward(grad)
        opt.step()
    model.eval()
    packed = inference.from_trained(model)
    agree = np.mean(packed.predict(x) == np.argmax(model.forward(x), axis=1))
    print(f"tiny BNN: loss {loss:.3f}, packed engine agrees on {100 * agree:.0f} % of its inputs")
    assert agree == 1.0
    print("smoke test passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
