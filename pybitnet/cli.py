"""The ``pybitnet`` command line: ``pybitnet info``."""
from __future__ import annotations

import argparse
import sys


def _info(_args) -> int:
    import pybitnet

    feats = pybitnet.cpu_features()
    print(f"pybitnet {pybitnet.__version__}")
    print(f"active ISA:     {pybitnet.isa()}")
    print(f"available ISAs: {', '.join(pybitnet.available_isas())}")
    print(f"threads:        {pybitnet.get_num_threads()}")
    print(f"CPU features:   {' '.join(name for name, on in feats.items() if on)}")
    print(f"build flags:    {pybitnet.build_info()['flags']}")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="pybitnet", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("info", help="print CPU features, the active ISA, threads and build flags").set_defaults(fn=_info)
    args = parser.parse_args(argv)
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
