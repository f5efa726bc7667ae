"""The DVC ``generate`` stage: the data of params.yaml's ``data`` section into data/.

python -m linreg.generate [params.yaml] [data]
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from linreg.config import params
from linreg.config.checks import adapt
from linreg.config.compose import compose
from linreg.config.paths import DATA_DIR, PARAMS
from linreg.config.typed import naming
from linreg.config.writable import check_folder
from linreg.core.data import DataSpec, generate
from linreg.core.datafiles import load_csv, save_dataset
from linreg.core.errors import UsageError


def build(params_path: str = PARAMS, out: str = DATA_DIR) -> Path:
    """The data spec checked as the train stage will check it, then made and written whole."""
    spec = adapt(compose(params.split(params_path)[0])).data
    out_path = Path(out)
    if out_path.exists() and not out_path.is_dir():
        raise UsageError(f"the data folder must be a folder, got {out!r} (a file)")
    check_folder("the data folder", str(out_path.parent), given=out)
    params.note_stale(params_path)
    with naming("data."):  # the core names path, dir ...: the user typed data.path, data.dir
        data = generate(spec) if isinstance(spec, DataSpec) else load_csv(spec)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_path.parent, prefix=".generate-") as tmp:
        save_dataset(data, tmp)
        if out_path.exists():
            shutil.rmtree(out_path)
        shutil.move(tmp, out_path)
        Path(tmp).mkdir()  # TemporaryDirectory expects to remove something
    print(
        f"generate: {len(data.y)} training and {len(data.y_test)} test samples, "
        f"{data.n_features} feature(s), digest {data.digest[:12]} -> {out_path}/"
    )
    return out_path


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        build(*argv[:2])
    except UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
