"""The DVC ``generate`` stage: the data of params.yaml's ``data`` section into data/.

python -m linreg.generate [params.yaml]
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from .core.data import DataSpec, generate
from .core.datafiles import load_csv, save_dataset
from .core.errors import LinregError
from .params import DATA_DIR, ParamsError, data_overrides, load_params


def build(params_path: str = "params.yaml", out: str = DATA_DIR) -> Path:
    """Compose the data config exactly as the train stage will, generate it, write it whole."""
    from hydra import compose, initialize_config_dir

    from .config import CONF_DIR, data_source
    from .sweep import UsageError, explain

    params = load_params(params_path)
    with initialize_config_dir(str(CONF_DIR), version_base="1.3", job_name="generate"):
        try:
            cfg = compose("config", overrides=data_overrides(params))
        except Exception as exc:
            raise UsageError(explain(exc)) from None
    spec = data_source(cfg.data)
    data = generate(spec) if isinstance(spec, DataSpec) else load_csv(spec)
    out_path = Path(out)
    with tempfile.TemporaryDirectory(
        dir=out_path.parent if out_path.parent.exists() else None, prefix=".generate-"
    ) as tmp:
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
    from .sweep import UsageError

    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        build(argv[0] if argv else "params.yaml")
    except (LinregError, ParamsError, UsageError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
