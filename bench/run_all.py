"""`make bench`: every CPU benchmark in turn, each printing figures with ratios.

The GPU benchmarks (bench/gpu_inference.py, bench/gpu_finetune.py) need a CUDA
machine with KERAS_BACKEND=jax and are run there, not here.
"""

import subprocess
import sys
from pathlib import Path

BENCHES = ["inference.py", "finetune.py", "billing.py", "abuse.py"]  # billing runs admission


def main() -> int:
    here = Path(__file__).resolve().parent
    failed = []
    for name in BENCHES:
        print(f"\n=== bench/{name} ===", flush=True)
        if subprocess.run([sys.executable, str(here / name)], check=False).returncode:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
