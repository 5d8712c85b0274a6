"""The ``portable-dnn`` command line, through ``python -m portable_dnn`` and the console script.

Most tests run the real entry point in a subprocess; a few call ``cli.main`` in-process where they
need to stop training at an exact iteration.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import portable_dnn as dnn
from portable_dnn import cli
from portable_dnn.cli import train as train_command
from portable_dnn.datasets import default_dataset
from portable_dnn.engine import SLOT_NAMES
from portable_dnn.model import L_model_forward
from portable_dnn.serialization import load_checkpoint, load_metadata, load_parameters, save_parameters

ROOT = Path(__file__).resolve().parents[1]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    env.pop("PORTABLE_DNN_BACKEND", None)
    env.setdefault("OMP_NUM_THREADS", "1")  # tiny matrices: threads only contend (torch on a busy machine)
    return env


def run(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "portable_dnn", *args],
        cwd=cwd,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _number(pattern: str, text: str) -> float:
    match = re.search(pattern, text)
    assert match, f"{pattern!r} not in {text!r}"
    return float(match.group(1))


def _assert_one_line_error(result: subprocess.CompletedProcess[str], status: int, message: str) -> None:
    assert result.returncode == status, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("portable-dnn: error: "), lines[0]
    assert re.search(message, lines[0]), lines[0]
    assert "Traceback" not in result.stderr


def _files(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


# --------------------------------------------------------- train and predict


def test_train_then_predict_on_the_embedded_data(backend, tmp_path):
    result = run(
        "train",
        "--iterations",
        "1500",
        "--backend",
        backend.name,
        "--quiet",
        "--out",
        "flower.npz",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # --quiet: no progress bar
    out = result.stdout
    train_acc = _number(r"Train accuracy: ([0-9.]+)", out)
    test_acc = _number(r"Test accuracy: ([0-9.]+)", out)
    assert train_acc >= 0.85 and test_acc >= 0.8
    assert "Model written to flower.npz" in out
    assert _number(r"Cost after iteration 1400: ([0-9.]+)", out) < 0.3

    meta = load_metadata(tmp_path / "flower.npz")
    assert meta["layer_dims"] == [2, 10, 5, 1]  # hidden 10,5 by default; input and output from the data
    assert meta["activations"] == ["relu", "relu", "sigmoid"] and meta["dtype"] == "float64"
    extra = meta["metadata"]
    assert extra["iterations"] == 1500 and extra["learning_rate"] == 0.3 and extra["seed"] == 1
    assert len(extra["costs"]) == 15 and extra["costs"][0] > extra["costs"][-1]
    assert not (tmp_path / "flower.ckpt.npz").exists()

    # predict on the test split (the default when the data has one), writing both output formats.
    pred = run("predict", "flower.npz", "--backend", backend.name, "--out", "p.npy", cwd=tmp_path)
    assert pred.returncode == 0, pred.stderr
    assert _number(r"Accuracy: ([0-9.]+)", pred.stdout) == test_acc
    assert "Predicted 80 test examples of the embedded flower data" in pred.stdout
    saved = np.load(tmp_path / "p.npy")
    _, _, X_test, Y_test = default_dataset()
    params = load_parameters(tmp_path / "flower.npz", backend="numpy")
    expected = (L_model_forward(X_test, params)[0] > 0.5).astype(np.int64)
    np.testing.assert_array_equal(saved, expected)
    assert float(np.mean(saved == Y_test)) == test_acc

    csv = run(
        "predict", "flower.npz", "--split", "train", "--backend", "numpy", "--out", "p.csv", cwd=tmp_path
    )
    assert csv.returncode == 0, csv.stderr
    assert _number(r"Accuracy: ([0-9.]+)", csv.stdout) == train_acc
    assert "Predicted 320 train examples" in csv.stdout
    assert np.loadtxt(tmp_path / "p.csv", dtype=np.int64).shape == (320,)


def test_train_on_an_npz_file_matches_the_embedded_data(tmp_path):
    X, Y, Xt, Yt = default_dataset()
    np.savez(tmp_path / "flower_data.npz", X=X, Y=Y, X_test=Xt, Y_test=Yt)
    common = [
        "--iterations",
        "300",
        "--layers",
        "6,3",
        "--learning-rate",
        "0.2",
        "--backend",
        "numpy",
        "--quiet",
    ]
    a = run("train", *common, "--out", "embedded.npz", cwd=tmp_path)
    b = run("train", *common, "--data", "flower_data.npz", "--out", "file.npz", cwd=tmp_path)
    assert a.returncode == 0 and b.returncode == 0, (a.stderr, b.stderr)
    assert load_metadata(tmp_path / "file.npz")["layer_dims"] == [2, 6, 3, 1]
    fa, fb = _files(tmp_path / "embedded.npz"), _files(tmp_path / "file.npz")
    for k in ("W1", "b1", "W2", "b2", "W3", "b3"):
        np.testing.assert_array_equal(fa[k], fb[k])


def test_train_float32_with_progress_bar_and_plot(tmp_path):
    result = run(
        "train", "--iterations", "200", "--dtype", "float32", "--backend", "numpy", "--plot", "cost.png",
        cwd=tmp_path,
    )  # fmt: skip
    if importlib.util.find_spec("matplotlib") is None:  # the plot extra is not installed: one clear line
        assert result.returncode == 1 and "pip install 'portable_dnn[plot]'" in result.stderr
        return
    assert result.returncode == 0, result.stderr
    assert "training" in result.stderr and "200/200" in result.stderr  # the tqdm bar
    assert "Training 2-10-5-1 on default (320 examples) with numpy (cpu), float32" in result.stdout
    assert "Cost curve written to cost.png" in result.stdout
    assert (tmp_path / "cost.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert load_metadata(tmp_path / "model.npz")["dtype"] == "float32"
    assert load_parameters(tmp_path / "model.npz", backend="numpy")["W1"].dtype == np.float32


def test_train_and_predict_on_the_cat_files(cat_paths, tmp_path):
    train_h5, test_h5 = map(str, cat_paths)
    args = [
        "--data",
        train_h5,
        test_h5,
        "--layers",
        "7",
        "--iterations",
        "3",
        "--backend",
        "numpy",
        "--quiet",
    ]
    result = run("train", *args, "--out", "cat.npz", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert load_metadata(tmp_path / "cat.npz")["layer_dims"] == [12288, 7, 1]
    assert 0.0 <= _number(r"Test accuracy: ([0-9.]+)", result.stdout) <= 1.0
    pred = run("predict", "cat.npz", "--data", train_h5, test_h5, "--backend", "numpy", cwd=tmp_path)
    assert pred.returncode == 0, pred.stderr
    assert "Predicted 50 test examples of train_catvnoncat.h5 test_catvnoncat.h5" in pred.stdout
    # A model whose sizes do not fit the data: one clear line, no traceback.
    run("train", "--iterations", "2", "--quiet", "--backend", "numpy", "--out", "flower.npz", cwd=tmp_path)
    bad = run("predict", "flower.npz", "--data", train_h5, test_h5, cwd=tmp_path)
    _assert_one_line_error(bad, 1, r"model 'flower.npz' expects 2 features per example .* has 12288")


def test_info(tmp_path):
    result = run("info", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith(f"portable_dnn {dnn.__version__} on Python ")
    backends = re.search(r"Backends that can run here: (.*)", out)
    assert backends and backends.group(1).split(", ") == dnn.available_backends()
    auto = dnn.get_backend("auto")
    assert f"'auto' picks: {auto.name} on {auto.device}" in out
    assert re.search(r"^  numpy: \d+\.\d+", out, re.MULTILINE)


def test_help(tmp_path):
    result = run("train", "--help", cwd=tmp_path)
    assert (
        result.returncode == 0
        and "--checkpoint-every N" in result.stdout
        and "--layers SIZES" in result.stdout
    )


def test_version(tmp_path):
    result = run("--version", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"portable-dnn {dnn.__version__}"
    with pytest.raises(SystemExit) as exit_info:  # argparse's version action, as for --help
        cli.main(["--version"])
    assert exit_info.value.code == 0


@pytest.mark.skipif(
    shutil.which("portable-dnn") is None, reason="the portable-dnn console script is not on PATH"
)
def test_console_script(tmp_path):
    exe = shutil.which("portable-dnn")
    assert exe is not None
    result = subprocess.run(
        [exe, "info"], cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0 and "Backends that can run here: " in result.stdout
    bad = subprocess.run(
        [exe, "predict", "nope.npz"], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    _assert_one_line_error(bad, 1, "model file 'nope.npz' does not exist")


# ------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("args", "status", "message"),
    [
        (["train", "--data", "missing.npz"], 1, r"load_npz_dataset: file 'missing.npz' does not exist"),
        (["train", "--data", "a.h5"], 1, r"--data needs both HDF5 files"),
        (["train", "--data", "a.h5", "b.h5"], 1, r"load_dataset: file 'a.h5' does not exist"),
        (
            ["train", "--layers", "20,x"],
            1,
            r"--layers must be comma-separated positive integers .* got '20,x'",
        ),
        (["train", "--layers", "20,0"], 1, r"--layers must be comma-separated positive integers"),
        (["train", "--learning-rate", "-1"], 1, r"--learning-rate must be a positive number, got -1.0"),
        (["train", "--iterations", "0"], 1, r"--iterations must be a positive integer, got 0"),
        (["train", "--iterations", "ten"], 2, r"argument --iterations: invalid int value: 'ten'"),
        (["train", "--dtype", "float16"], 2, r"argument --dtype: invalid choice: 'float16'"),
        (["train", "--backend", "fortran"], 1, r"unknown backend 'fortran'"),
        (["train", "--backend", "jax"], 1, r"backend 'jax' cannot run here: jax is not installed"),
        (["train", "--checkpoint-every", "0"], 1, r"--checkpoint-every must be a positive integer"),
        (["train", "--resume"], 1, r"--resume: no checkpoint 'model.ckpt.npz' to resume from"),
        (["train", "--bogus"], 2, r"unrecognized arguments: --bogus"),
        (["predict", "nope.npz"], 1, r"load_metadata: model file 'nope.npz' does not exist"),
        (["predict", "garbage.npz"], 1, r"load_metadata: 'garbage.npz' is not a readable model file"),
        (["predict"], 2, r"the following arguments are required: MODEL.npz"),
        ([], 2, r"the following arguments are required: COMMAND"),
    ],
)
def test_errors_are_one_line(tmp_path, args, status, message):
    if "jax" in args and "jax" in dnn.available_backends():
        pytest.skip("jax is installed here")
    (tmp_path / "garbage.npz").write_bytes(b"PK\x03\x04 not really a zip")
    _assert_one_line_error(run(*args, cwd=tmp_path), status, message)


def test_error_when_the_output_folder_is_missing(tmp_path):
    # Found before training: the run would otherwise lose the model it trained.
    result = run("train", "--iterations", "100000", "--quiet", "--out", "no/such/dir/m.npz", cwd=tmp_path)
    _assert_one_line_error(result, 1, r"--out 'no/such/dir/m.npz': folder '.*no/such/dir' does not exist")
    result = run("train", "--iterations", "100000", "--quiet", "--plot", "nope/c.png", cwd=tmp_path)
    _assert_one_line_error(result, 1, r"--plot 'nope/c.png': folder '.*nope' does not exist")
    (tmp_path / "ro").mkdir(mode=0o555)
    if os.access(tmp_path / "ro", os.W_OK):  # root writes anywhere: a read-only folder cannot be shown
        return
    result = run("train", "--quiet", "--out", "ro/m.npz", cwd=tmp_path)
    _assert_one_line_error(result, 1, r"--out 'ro/m.npz': folder '.*ro' is not writable")


@pytest.mark.default_backend
def test_error_when_labels_do_not_fit_the_model(tmp_path, capsys):
    assert cli.main(["train", "--iterations", "2", "--quiet", "--out", str(tmp_path / "m.npz")]) == 0
    X = np.zeros((3, 4))
    np.savez(tmp_path / "three.npz", X=X, Y=np.array([[0, 1, 0, 1]]))
    capsys.readouterr()
    assert cli.main(["predict", str(tmp_path / "m.npz"), "--data", str(tmp_path / "three.npz")]) == 1
    err = capsys.readouterr().err
    assert re.fullmatch(
        r"portable-dnn: error: model '.*m\.npz' expects 2 features per example .* has 3\n", err
    )
    assert cli.main(["predict", str(tmp_path / "m.npz"), "--out", str(tmp_path / "p.txt")]) == 1
    assert "--out must end with .npy or .csv" in capsys.readouterr().err
    assert (
        cli.main(
            ["predict", str(tmp_path / "m.npz"), "--data", str(tmp_path / "three.npz"), "--split", "test"]
        )
        == 1
    )
    assert "has no test set" in capsys.readouterr().err


# ------------------------------------------------------- checkpoints, resume


def _interrupt_at(monkeypatch, iteration: int) -> None:
    """Make the CLI's next training run receive SIGINT right after ``iteration`` iterations."""
    _interrupt_fit_at(monkeypatch, iteration, signal.SIGINT)


@pytest.fixture
def one_thread(backend):
    """Torch on one thread while the test runs: its threads only contend on these tiny matrices."""
    if backend.name != "torch":
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def test_interrupt_then_resume_gives_the_uninterrupted_result(
    backend, tmp_path, monkeypatch, capsys, one_thread, python_sigint
):
    common = [
        "train",
        "--iterations",
        "450",
        "--backend",
        backend.name,
        "--quiet",
        "--checkpoint-every",
        "100",
    ]
    full, parted = str(tmp_path / "full.npz"), str(tmp_path / "parted.npz")
    assert cli.main([*common, "--out", full]) == 0

    _interrupt_at(monkeypatch, 333)
    assert cli.main([*common, "--out", parted]) == 130
    err = capsys.readouterr().err
    ckpt = tmp_path / "parted.ckpt.npz"
    assert f"interrupted after 333 of 450 iterations; checkpoint saved to {ckpt}" in err
    assert err.rstrip().endswith(f"--out {parted} --resume")
    assert not os.path.exists(parted)
    meta = load_metadata(ckpt)["metadata"]
    assert meta["iterations"] == 333 and len(meta["costs"]) == 4  # costs at 0, 100, 200, 300
    monkeypatch.undo()

    assert cli.main([*common, "--out", parted, "--resume"]) == 0
    assert not ckpt.exists()  # the finished model supersedes the checkpoint
    a, b = _files(Path(full)), _files(Path(parted))
    assert sorted(a) == sorted(b)
    for k in a:
        if backend.name == "numpy" or k != "metadata":
            np.testing.assert_array_equal(a[k], b[k], err_msg=k)  # bitwise, costs included
    if backend.name != "numpy":
        np.testing.assert_allclose(
            load_metadata(full)["metadata"]["costs"], load_metadata(parted)["metadata"]["costs"], rtol=1e-12
        )


def test_interrupt_during_a_periodic_checkpoint_write_stops_training(
    backend, tmp_path, monkeypatch, capsys, python_sigint
):
    real = cli.save_parameters
    writes = []

    def interrupted_write(*args, **kwargs):
        writes.append(kwargs["metadata"]["iterations"])
        if len(writes) == 1:
            signal.raise_signal(signal.SIGINT)  # Ctrl-C while the first checkpoint is written
        return real(*args, **kwargs)

    monkeypatch.setattr(cli, "save_parameters", interrupted_write)
    out = str(tmp_path / "m.npz")
    args = ["train", "--iterations", "100000", "--checkpoint-every", "20", "--backend", backend.name]
    assert cli.main([*args, "--quiet", "--out", out]) == 130
    err = capsys.readouterr().err
    assert writes == [20, 20], err  # the periodic write, finished, then the one on the way out
    assert "interrupted after 20 of 100000 iterations" in err and "second interrupt" not in err


def _interrupt_fit_at(monkeypatch, epoch: int, signum: int) -> None:
    """Make the CLI's next training run receive ``signum`` right after ``epoch`` epochs."""
    real = train_command.after_epoch

    def wrapped(run, bar, state):
        real(run, bar, state)
        if state.iteration == epoch:
            signal.raise_signal(signum)

    monkeypatch.setattr(train_command, "after_epoch", wrapped)


@pytest.mark.parametrize(
    "extra",
    [
        ["--batch-size", "64"],
        ["--optimizer", "momentum", "--batch-size", "50"],
        ["--optimizer", "adam"],
        ["--optimizer", "nesterov", "--beta", "0.8", "--batch-size", "50"],
        ["--optimizer", "rmsprop", "--rho", "0.8", "--batch-size", "64"],
        ["--optimizer", "adamw", "--weight-decay", "0.05", "--clip-norm", "0.5", "--batch-size", "64"],
        ["--optimizer", "nadam", "--momentum-decay", "0.01", "--batch-size", "64"],
    ],
)
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_every_optimizer_resumes_bit_identical(
    backend, tmp_path, monkeypatch, capsys, one_thread, python_sigint, extra, signum
):
    """Mini-batches, momentum and Adam: the checkpoint holds the optimizer's state, its step count,
    the epoch and the costs, so a resumed run ends exactly where the uninterrupted one does."""
    common = ["train", "--iterations", "12", "--learning-rate", "0.01", "--backend", backend.name,
              "--quiet", "--checkpoint-every", "5", *extra]  # fmt: skip
    full, parted = str(tmp_path / "full.npz"), str(tmp_path / "parted.npz")
    assert cli.main([*common, "--out", full]) == 0
    previous = signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        _interrupt_fit_at(monkeypatch, 7, signum)
        assert cli.main([*common, "--out", parted]) == 128 + signum
    finally:
        signal.signal(signal.SIGTERM, previous)
    err = capsys.readouterr().err
    ckpt = tmp_path / "parted.ckpt.npz"
    what = "terminated" if signum == signal.SIGTERM else "interrupted"
    assert f"{what} after 7 of 12 epochs; checkpoint saved to {ckpt}" in err
    _, slots, meta = load_checkpoint(ckpt, backend="numpy")
    optimizer = extra[extra.index("--optimizer") + 1] if "--optimizer" in extra else "gd"
    assert sorted(slots) == sorted(SLOT_NAMES[optimizer])
    assert meta["metadata"]["iterations"] == 7 and len(meta["metadata"]["costs"]) == 7
    m = default_dataset()[0].shape[1]
    steps_per_epoch = (
        1 if "--batch-size" not in extra else -(-m // int(extra[extra.index("--batch-size") + 1]))
    )
    assert meta["metadata"]["t"] == 7 * steps_per_epoch
    monkeypatch.undo()
    assert cli.main([*common, "--out", parted, "--resume"]) == 0
    assert not ckpt.exists()
    a, b = _files(Path(full)), _files(Path(parted))
    assert sorted(a) == sorted(b)
    for k in a:
        if backend.name == "numpy" or k != "metadata":
            np.testing.assert_array_equal(a[k], b[k], err_msg=k)  # bitwise, costs included


def test_a_course_checkpoint_of_an_earlier_version_resumes(tmp_path, capsys):
    """The course loop of earlier versions kept a cost every 100 iterations, as today, and counted
    its steps from each resumed start; its checkpoint resumes and ends where an uninterrupted run
    ends."""
    common = ["train", "--quiet", "--backend", "numpy", "--layers", "4"]
    assert cli.main([*common, "--iterations", "250", "--out", str(tmp_path / "first.npz")]) == 0
    recorded = load_metadata(tmp_path / "first.npz")["metadata"]
    assert len(recorded["costs"]) == 3  # iterations 0, 100, 200
    parameters = load_parameters(tmp_path / "first.npz", backend="numpy")
    written = {**recorded, "num_iterations": 450, "t": 50}  # 50 steps since a resumed start at 200
    save_parameters(parameters, tmp_path / "m.ckpt.npz", metadata=written)
    assert cli.main([*common, "--iterations", "450", "--resume", "--out", str(tmp_path / "m.npz")]) == 0
    assert cli.main([*common, "--iterations", "450", "--out", str(tmp_path / "full.npz")]) == 0
    a, b = _files(tmp_path / "full.npz"), _files(tmp_path / "m.npz")
    assert sorted(a) == sorted(b)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)  # bitwise, costs included


@pytest.fixture
def step_classes(monkeypatch):
    """The name of the step class of every training run's trainer, in order."""
    from portable_dnn import engine

    built = []
    real = engine.Trainer.__init__

    def spy(self, func, backend, step, *args, **kwargs):
        built.append(type(step).__name__)
        real(self, func, backend, step, *args, **kwargs)

    monkeypatch.setattr(engine.Trainer, "__init__", spy)
    return built


def test_the_course_cat_command_takes_the_gram_step(cat_paths, tmp_path, step_classes):
    """209 images of 12288 values: full-batch gradient descent carries the first layer through the
    examples' Gram matrix, as L_layer_model does, checkpoints and all."""
    train_h5, test_h5 = map(str, cat_paths)
    argv = ["train", "--data", train_h5, test_h5, "--checkpoint-every", "500", "--iterations", "30",
            "--backend", "numpy", "--quiet", "--out", str(tmp_path / "cat.npz")]  # fmt: skip
    assert cli.main(argv) == 0
    assert step_classes == ["GramStep"]


def test_a_run_on_the_gram_step_resumes_bit_identical(
    backend, tmp_path, capsys, step_classes, one_thread, python_sigint
):
    """Fewer examples than half the features: the Gram step, restarted from W1 at every periodic
    checkpoint, so a run resumed from one ends bit for bit where the uninterrupted run ends."""
    if not backend.supports_gram:
        pytest.skip(f"the {backend.name} backend has no Gram step")
    rng = np.random.RandomState(0)
    X = rng.randn(400, 60)
    np.savez(tmp_path / "wide.npz", X=X, Y=(X[:1] + X[1:2] > 0).astype(np.int64))
    common = ["train", "--data", str(tmp_path / "wide.npz"), "--layers", "7,5", "--learning-rate",
              "0.01", "--iterations", "130", "--checkpoint-every", "50", "--backend", backend.name,
              "--quiet"]  # fmt: skip
    full, parted = str(tmp_path / "full.npz"), str(tmp_path / "parted.npz")
    assert cli.main([*common, "--out", full]) == 0
    with pytest.MonkeyPatch.context() as patch:
        _interrupt_fit_at(patch, 100, signal.SIGINT)
        assert cli.main([*common, "--out", parted]) == 130
    assert load_metadata(tmp_path / "parted.ckpt.npz")["metadata"]["iterations"] == 100
    assert cli.main([*common, "--out", parted, "--resume"]) == 0
    assert step_classes == ["GramStep"] * 3
    a, b = _files(Path(full)), _files(Path(parted))
    assert sorted(a) == sorted(b)
    for k in a:
        if backend.name == "numpy" or k != "metadata":
            np.testing.assert_array_equal(a[k], b[k], err_msg=k)  # bitwise, costs included


@pytest.mark.default_backend
def test_resume_refuses_a_checkpoint_of_another_run(tmp_path, capsys):
    out = str(tmp_path / "m.npz")
    X, Y, _, _ = default_dataset()
    params = dnn.initialize_parameters_deep([2, 10, 5, 1], init="xavier", seed=1, backend="numpy")
    data_sha = cli._fingerprint(cli.Data("default", X, Y, None, None))
    base = {"iterations": 50, "costs": [0.7], "learning_rate": 0.3, "seed": 1, "data_sha256": data_sha}
    ckpt = tmp_path / "m.ckpt.npz"
    cases = [
        (["--learning-rate", "0.1"], base, "was made with learning rate 0.3, this command uses 0.1"),
        (["--seed", "2"], base, "was made with seed 1, this command uses 2"),
        (
            ["--layers", "4"],
            base,
            r"was made with layer sizes \[2, 10, 5, 1\], this command uses \[2, 4, 1\]",
        ),
        (["--dtype", "float32"], base, "was made with dtype float64, this command uses float32"),
        (["--optimizer", "adam"], base, "was made with optimizer gd, this command uses adam"),
        (["--batch-size", "32"], base, "was made with batch size None, this command uses 32"),
        (
            [],
            {**base, "data_sha256": "0"},
            "was made with a different data set, this command uses other data",
        ),
        (["--iterations", "50"], base, "already has 50 of 50 iterations"),
    ]
    for extra_args, metadata, message in cases:
        save_parameters(params, ckpt, metadata=metadata)
        capsys.readouterr()
        assert cli.main(["train", "--quiet", "--resume", "--out", out, *extra_args]) == 1
        err = capsys.readouterr().err
        assert re.fullmatch(
            r"portable-dnn: error: --resume: checkpoint '.*m\.ckpt\.npz' " + message + r"\n", err
        ), err


def test_ctrl_c_in_a_subprocess_saves_a_checkpoint_and_exits_130(tmp_path):
    # A terminal's Ctrl-C, even where CI started us with SIGINT ignored: set in the child
    # itself, since a preexec_fn would fork this (possibly multithreaded) process.
    launch = (
        "import runpy, signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "runpy.run_module('portable_dnn', run_name='__main__', alter_sys=True)"
    )
    cmd = [
        sys.executable,
        "-c",
        launch,
        "train",
        "--iterations",
        "10000000",
        "--checkpoint-every",
        "200",
    ]
    cmd += ["--backend", "numpy", "--quiet", "--out", "run.npz"]
    proc = subprocess.Popen(
        cmd,
        cwd=tmp_path,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    ckpt = tmp_path / "run.ckpt.npz"
    try:
        deadline = time.monotonic() + 60
        while not ckpt.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ckpt.exists(), "no checkpoint appeared"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    done = load_metadata(ckpt)["metadata"]["iterations"]
    assert done >= 200
    assert (
        f"portable-dnn: interrupted after {done} of 10000000 iterations; checkpoint saved to run.ckpt.npz"
        in err
    )
    assert "resume with: portable-dnn train --iterations 10000000" in err and err.rstrip().endswith(
        "--resume"
    )
    assert "Traceback" not in err and not (tmp_path / "run.npz").exists()

    # Resume it for 50 more iterations (a larger --iterations than the checkpoint's count is allowed).
    more = run("train", "--iterations", str(done + 50), "--backend", "numpy", "--quiet", "--out", "run.npz",
               "--resume", cwd=tmp_path)  # fmt: skip
    assert more.returncode == 0, more.stderr
    assert load_metadata(tmp_path / "run.npz")["metadata"]["iterations"] == done + 50
    assert not ckpt.exists()


def test_in_process_main_covers_the_same_paths(tmp_path, capsys, one_thread, backend):
    """The subprocess tests' paths once more through ``cli.main``, so coverage sees them."""
    out = str(tmp_path / "m.npz")
    args = [
        "train",
        "--iterations",
        "120",
        "--backend",
        backend.name,
        "--out",
        out,
        "--checkpoint-every",
        "50",
    ]
    assert cli.main([*args, "--plot", str(tmp_path / "c.png"), "--layers", "4"]) == 0
    captured = capsys.readouterr()
    assert "Training 2-4-1 on default (320 examples)" in captured.out and "120/120" in captured.err
    assert load_metadata(out)["metadata"]["costs"] and not (tmp_path / "m.ckpt.npz").exists()
    for dest in ("p.npy", "p.csv"):
        assert cli.main(["predict", out, "--backend", backend.name, "--out", str(tmp_path / dest)]) == 0
    printed = capsys.readouterr().out
    assert printed.count("Predicted 80 test examples of the embedded flower data") == 2
    assert "Predictions written to" in printed
    np.testing.assert_array_equal(np.load(tmp_path / "p.npy").reshape(-1), np.loadtxt(tmp_path / "p.csv"))
    assert cli.main(["info"]) == 0 and "Backends that can run here:" in capsys.readouterr().out
    X, Y, _, _ = default_dataset()
    np.savez(tmp_path / "train_only.npz", X=X, Y=Y)
    assert cli.main(["predict", out, "--data", str(tmp_path / "train_only.npz")]) == 0
    assert "Predicted 320 train examples of train_only.npz" in capsys.readouterr().out
    for argv, status, message in [
        (["train", "--data", "a", "b", "c"], 1, "--data takes FILE.npz or TRAIN.h5 TEST.h5, got 3 files"),
        (
            ["train", "--quiet", "--iterations", "1", "--out", str(tmp_path / "no" / "m.npz")],
            1,
            "does not exist",
        ),
        (["predict", str(tmp_path)], 1, "is not a file"),
        (["train", "--layers"], 2, "expected one argument"),
    ]:
        assert cli.main(argv) == status
        err = capsys.readouterr().err
        assert err.startswith("portable-dnn: error: ") and message in err and err.count("\n") == 1, err


# ------------------------------------------------------- optimizers, mini-batches


def test_train_with_adam_mini_batches_matches_fit(backend, tmp_path):
    result = run(
        "train", "--optimizer", "adam", "--batch-size", "64", "--learning-rate", "0.01",
        "--iterations", "150", "--backend", backend.name, "--quiet", "--out", "adam.npz", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    train_acc = _number(r"Train accuracy: ([0-9.]+)", result.stdout)
    assert train_acc > 0.8
    meta = load_metadata(tmp_path / "adam.npz")
    assert meta["metadata"]["optimizer"] == "adam" and meta["metadata"]["batch_size"] == 64
    assert len(meta["metadata"]["costs"]) == 150
    # The same run through the library gives the same weights.
    from portable_dnn import default_dataset, fit, to_numpy

    X, Y, _, _ = default_dataset()
    params, history = fit(X, Y, [2, 10, 5, 1], init="xavier", optimizer="adam", learning_rate=0.01,
                          batch_size=64, num_epochs=150, seed=1, backend="numpy")  # fmt: skip
    saved = load_parameters(tmp_path / "adam.npz", backend="numpy")
    tol = 0 if backend.name in ("numpy", "array_api_strict") else 1e-9
    for key in params:
        np.testing.assert_allclose(to_numpy(saved[key]), to_numpy(params[key]), rtol=0, atol=tol)
    assert meta["metadata"]["costs"][-1] == pytest.approx(history["cost"][-1], abs=1e-9)


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--optimizer", "adam", "--resume"], "--resume: no checkpoint 'model.ckpt.npz' to resume from"),
        (["--batch-size", "0"], "--batch-size must be a positive integer, got 0"),
        (["--optimizer", "sgd"], "argument --optimizer: invalid choice: 'sgd'"),
        (["--optimizer", "adam", "--rho", "0.5"], "--rho applies to --optimizer rmsprop, not adam"),
        (["--beta", "0.5"], "--beta applies to --optimizer momentum or nesterov, not gd"),
        (
            ["--optimizer", "gd", "--epsilon", "1e-7"],
            "--epsilon applies to --optimizer rmsprop or adam or adamw",
        ),
        (
            ["--optimizer", "adam", "--weight-decay", "0.1"],
            "--weight-decay applies to --optimizer adamw, not adam",
        ),
        (["--optimizer", "momentum", "--beta", "1"], "--beta must be a number in [0, 1), got 1.0"),
        (["--optimizer", "adamw", "--beta2", "nan"], "--beta2 must be a number in [0, 1), got nan"),
        (["--optimizer", "rmsprop", "--epsilon", "0"], "--epsilon must be a positive finite number, got 0.0"),
        (
            ["--optimizer", "adamw", "--weight-decay", "-1"],
            "--weight-decay must be a finite number >= 0, got -1.0",
        ),
        (["--clip-norm", "0"], "--clip-norm must be a positive finite number, got 0.0"),
        (["--clip-norm", "inf"], "--clip-norm must be a positive finite number, got inf"),
    ],
)
def test_optimizer_option_errors(tmp_path, extra, message):
    result = run("train", "--iterations", "2", "--quiet", *extra, cwd=tmp_path)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("portable-dnn: error: ") and message in lines[0]


@pytest.mark.parametrize(
    "extra, options",
    [
        (["--optimizer", "nesterov", "--beta", "0.8"], {"beta": 0.8}),
        (["--optimizer", "rmsprop", "--rho", "0.8", "--epsilon", "1e-6"], {"rho": 0.8, "epsilon": 1e-6}),
        (
            ["--optimizer", "adamw", "--beta1", "0.85", "--beta2", "0.99", "--weight-decay", "0.05"],
            {"beta1": 0.85, "beta2": 0.99, "weight_decay": 0.05},
        ),
        (["--optimizer", "adam", "--clip-norm", "0.3"], {"clip_norm": 0.3}),
        (["--clip-norm", "0.3"], {"clip_norm": 0.3}),  # gradient descent, clipped: through fit
    ],
)
def test_every_optimizer_with_its_options_matches_fit(backend, tmp_path, capsys, one_thread, extra, options):
    out = tmp_path / "m.npz"
    argv = ["train", "--iterations", "30", "--learning-rate", "0.01", "--batch-size", "64", "--quiet"]
    assert cli.main([*argv, "--backend", backend.name, "--out", str(out), *extra]) == 0
    assert "Cost after epoch 29: " in capsys.readouterr().out
    optimizer = extra[extra.index("--optimizer") + 1] if "--optimizer" in extra else "gd"
    meta = load_metadata(out)["metadata"]
    defaults = {
        "momentum": {"beta": 0.9},
        "nesterov": {"beta": 0.9},
        "rmsprop": {"rho": 0.9, "epsilon": 1e-8},
        "adam": {"beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8},
        "adamw": {"beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8, "weight_decay": 0.01},
    }
    recorded = {**defaults.get(optimizer, {}), "clip_norm": None, **options}
    assert {k: meta[k] for k in recorded} == recorded and meta["optimizer"] == optimizer
    unused = {"beta", "beta1", "beta2", "rho", "epsilon", "weight_decay"} - set(recorded)
    assert not unused & set(meta)  # only what the optimizer reads
    X, Y, _, _ = default_dataset()
    params, history = dnn.fit(
        X,
        Y,
        [2, 10, 5, 1],
        init="xavier",
        optimizer=optimizer,
        learning_rate=0.01,
        batch_size=64,
        num_epochs=30,
        seed=1,
        backend="numpy",
        **options,
    )
    saved = load_parameters(out, backend="numpy")
    tol = 0 if backend.name in ("numpy", "array_api_strict") else 1e-9
    for key in params:
        np.testing.assert_allclose(dnn.to_numpy(saved[key]), params[key], rtol=0, atol=tol, err_msg=key)
    assert meta["costs"] == pytest.approx(history["cost"], abs=1e-9)


@pytest.mark.default_backend
def test_resume_refuses_other_optimizer_options(tmp_path, capsys):
    out = str(tmp_path / "m.npz")
    common = ["train", "--quiet", "--iterations", "6", "--batch-size", "64", "--checkpoint-every", "2"]
    ckpt = tmp_path / "m.ckpt.npz"
    cases = [  # the checkpoint's run, the resuming command's options, the error
        (
            ["--optimizer", "adamw"],
            ["--optimizer", "adamw", "--weight-decay", "0.05"],
            "weight decay 0.01",
            "0.05",
        ),
        (["--optimizer", "rmsprop", "--rho", "0.8"], ["--optimizer", "rmsprop"], "rho 0.8", "0.9"),
        (["--optimizer", "adam"], ["--optimizer", "adam", "--clip-norm", "1"], "clip norm None", "1.0"),
        (
            ["--optimizer", "nesterov", "--beta", "0.7"],
            ["--optimizer", "nesterov", "--beta", "0.75"],
            "beta 0.7",
            "0.75",
        ),
        (["--optimizer", "adam", "--epsilon", "1e-7"], ["--optimizer", "adam"], "epsilon 1e-07", "1e-08"),
    ]
    for made, now, saved, used in cases:
        # A checkpoint of the run's first epochs, then a resume with other options.
        save_parameters(
            dnn.initialize_parameters_deep([2, 10, 5, 1], init="xavier", seed=1, backend="numpy"),
            ckpt,
            metadata={
                "iterations": 2,
                "costs": [0.7, 0.6],
                "learning_rate": 0.3,
                "seed": 1,
                "batch_size": 64,
                "data_sha256": cli._fingerprint(cli.Data("default", *default_dataset()[:2], None, None)),
                **_options_of([*common, *made]),
            },
        )
        capsys.readouterr()
        assert cli.main([*common, "--resume", "--out", out, *now]) == 1
        err = capsys.readouterr().err
        message = f"was made with {saved}, this command uses {used}"
        assert re.fullmatch(
            r"portable-dnn: error: --resume: checkpoint '.*m\.ckpt\.npz' " + re.escape(message) + r"\n", err
        ), err


def _options_of(argv: list[str]) -> dict:
    """The optimizer and its options as ``train`` with ``argv`` records them in its files."""
    args = cli.build_parser().parse_args(argv)
    return {"optimizer": args.optimizer, **cli._optimizer(args).get_params()}


@pytest.mark.default_backend
def test_a_second_interrupt_during_the_checkpoint_write_waits_for_it(
    tmp_path, monkeypatch, capsys, python_sigint
):
    real = cli.save_parameters

    def save_interrupted(*args, **kwargs):
        if str(args[1]).endswith(".ckpt.npz"):
            signal.raise_signal(signal.SIGINT)  # lands while the checkpoint is being written
        return real(*args, **kwargs)

    monkeypatch.setattr(cli, "save_parameters", save_interrupted)
    _interrupt_at(monkeypatch, 5)
    assert cli.main(["train", "--iterations", "50", "--quiet", "--out", str(tmp_path / "m.npz")]) == 130
    err = capsys.readouterr().err
    assert "a second interrupt came during the checkpoint write; it was finished first" in err
    assert load_checkpoint(tmp_path / "m.ckpt.npz")[2]["metadata"]["iterations"] == 5


@pytest.mark.default_backend
def test_running_out_of_memory_is_one_line(tmp_path, monkeypatch, capsys):
    def exhausted(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(train_command, "_fit", exhausted)
    assert cli.main(["train", "--quiet", "--out", str(tmp_path / "m.npz")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "portable-dnn: error: not enough memory for this network and data (try smaller --layers, "
        "--batch-size or --dtype float32)"
    ]


# ------------------------------------------ checkpoints a command must not lose or trust


def test_a_fresh_run_keeps_an_unfinished_runs_checkpoint(
    backend, tmp_path, monkeypatch, capsys, python_sigint
):
    out = str(tmp_path / "L.npz")
    ckpt = tmp_path / "L.ckpt.npz"
    first = ["train", "--optimizer", "adamw", "--iterations", "12", "--checkpoint-every", "2", "--quiet",
             "--backend", backend.name, "--out", out]  # fmt: skip
    _interrupt_fit_at(monkeypatch, 7, signal.SIGINT)
    assert cli.main(first) == 130
    monkeypatch.undo()
    saved = ckpt.read_bytes()
    assert load_metadata(ckpt)["metadata"]["iterations"] == 7
    capsys.readouterr()

    fresh = ["train", "--iterations", "5", "--quiet", "--backend", backend.name, "--out", out]
    assert cli.main(fresh) == 1
    assert capsys.readouterr().err == (
        f"portable-dnn: error: {str(ckpt)!r} holds the checkpoint of an unfinished run: continue it with "
        "--resume, or start over with --overwrite-checkpoint (which replaces it)\n"
    )
    assert ckpt.read_bytes() == saved and not os.path.exists(out)

    assert cli.main([*fresh, "--resume", "--overwrite-checkpoint"]) == 2
    assert "not allowed with argument" in capsys.readouterr().err
    assert ckpt.read_bytes() == saved

    # Starting over, interrupted in turn: its checkpoint replaces the old one, and the command
    # printed to resume it does not start over again.
    _interrupt_at(monkeypatch, 3)
    assert cli.main([*fresh, "--overwrite-checkpoint"]) == 130
    monkeypatch.undo()
    assert load_metadata(ckpt)["metadata"]["iterations"] == 3
    again = shlex.split(capsys.readouterr().err.rstrip().rsplit("resume with: ", 1)[1])
    assert again == ["portable-dnn", *fresh, "--resume"]
    assert cli.main(again[1:]) == 0
    assert not ckpt.exists() and load_metadata(out)["metadata"]["iterations"] == 5


def _rmsprop_checkpoint(path: Path, metadata: dict | None = None, s: float | None = 0.0) -> list[str]:
    """A checkpoint of 2 of 6 epochs of RMSProp on mini-batches of 64 (5 steps an epoch), written as
    the command writes it, with ``metadata`` changed; the command that resumes it."""
    command = ["train", "--quiet", "--iterations", "6", "--batch-size", "64", "--optimizer", "rmsprop"]
    params = dnn.initialize_parameters_deep([2, 10, 5, 1], init="xavier", seed=1, backend="numpy")
    data_sha = cli._fingerprint(cli.Data("default", *default_dataset()[:2], None, None))
    recorded = {"iterations": 2, "costs": [0.7, 0.6], "learning_rate": 0.3, "seed": 1, "batch_size": 64,
                "data_sha256": data_sha, "t": 10, **_options_of(command), **(metadata or {})}  # fmt: skip
    slots = None if s is None else {"s": {f"d{k}": np.zeros_like(v) for k, v in params.items()}}
    save_parameters(params, path, metadata=recorded, optimizer_state=slots)
    return [*command, "--resume", "--out", str(path).replace(".ckpt.npz", ".npz")]


@pytest.mark.parametrize(
    ("metadata", "s", "message"),
    [
        ({}, None, "holds the optimizer slots none; the rmsprop optimizer keeps s"),
        ({"rho": "0.9"}, 0.0, "has a malformed field 'rho' ('0.9'; expected a finite number)"),
        (
            {"rho": 10**400},
            0.0,
            "has a malformed field 'rho' (1000000000000000000000000000000000000...; "
            "expected a finite number)",
        ),  # fmt: skip
        ({"t": 7}, 0.0, "has a malformed field 't' (7; expected 2 epochs of 5 steps, 10)"),
        (
            {"t": 10**400},
            0.0,
            "has a malformed field 't' (1000000000000000000000000000000000000...; "
            "expected 2 epochs of 5 steps, 10)",
        ),  # fmt: skip
        (
            {"costs": [10**400, 0.6]},
            0.0,
            "has a malformed field 'costs' "
            "([100000000000000000000000000000000000...; expected finite numbers)",
        ),
        ({"costs": [0.7]}, 0.0, r"has a malformed field 'costs' ([0.7]; expected 2 costs for 2 epochs)"),
        ({}, -1.0, "negative"),
    ],
    ids=["no-slot", "rho-text", "rho-huge", "t-wrong", "t-huge", "costs-huge", "costs-short", "s-negative"],
)
@pytest.mark.default_backend
def test_resume_names_the_malformed_field_of_a_crafted_checkpoint(tmp_path, capsys, metadata, s, message):
    ckpt = tmp_path / "m.ckpt.npz"
    command = _rmsprop_checkpoint(ckpt, metadata, 0.0 if s == -1.0 else s)
    if s == -1.0:  # written past save_parameters, which refuses it
        arrays = _files(ckpt)
        arrays["s.dW2"] = np.full_like(arrays["s.dW2"], -1.0)
        np.savez(ckpt, **arrays)
        message = (
            f"load_checkpoint: {str(ckpt)!r} has negative values in 's.dW2', an average of squared gradients"
        )
    else:
        message = f"--resume: checkpoint {str(ckpt)!r} {message}"
    capsys.readouterr()
    assert cli.main(command) == 1
    assert capsys.readouterr().err == f"portable-dnn: error: {message}\n"


@pytest.mark.default_backend
def test_a_sound_crafted_checkpoint_resumes(tmp_path, capsys):
    """The crafted checkpoint of the test above, unchanged, is one the command resumes."""
    command = _rmsprop_checkpoint(tmp_path / "m.ckpt.npz")
    assert cli.main(command) == 0, capsys.readouterr().err
    assert load_metadata(tmp_path / "m.npz")["metadata"]["iterations"] == 6


@pytest.mark.parametrize(("rate", "decay"), [("0.3", "1e300"), ("0.01", "100")])
def test_a_weight_decay_past_one_per_step_is_refused(tmp_path, capsys, rate, decay):
    command = ["train", "--optimizer", "adamw", "--learning-rate", rate, "--weight-decay", decay,
               "--iterations", "3", "--quiet", "--out", str(tmp_path / "m.npz")]  # fmt: skip
    assert cli.main(command) == 1
    product = float(rate) * float(decay)
    assert capsys.readouterr().err == (
        f"portable-dnn: error: --weight-decay: learning_rate * weight_decay = {product:.3g} must be below 1 "
        "(decoupled weight decay scales every parameter by 1 - learning_rate * weight_decay at each step)\n"
    )
    assert not (tmp_path / "m.npz").exists()
