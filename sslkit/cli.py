"""The ``sslkit`` command line: thin adapters from flags to config dataclasses to plain functions.

Nothing heavy is imported at module level (no torch, no plugin discovery), so ``sslkit --help``
is fast and works even when a plugin is broken. User errors (:class:`SSLKitError`) are printed as
one red line with exit code 2; ``sslkit --debug ...`` shows the traceback instead.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from sslkit.errors import SSLKitError

app = typer.Typer(help="Self-supervised visual representation learning from heavy augmentations.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
_state = {"debug": False}
err = Console(stderr=True, highlight=False, soft_wrap=True)
out = Console(highlight=False, soft_wrap=True)


@contextlib.contextmanager
def user_errors():
    """Turn SSLKitError into one red line and exit code 2 (traceback with --debug)."""
    try:
        yield
    except SSLKitError as error:
        if _state["debug"]:
            raise
        err.print(f"[red]error:[/] {error}")
        raise typer.Exit(2) from None


@app.callback()
def main(debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks of errors.")] = False) -> None:
    """sslkit: pretrain, evaluate and export self-supervised backbones."""
    _state["debug"] = debug or bool(os.environ.get("SSLKIT_DEBUG"))


@app.command()
def pretrain(
    method: Annotated[str | None, typer.Argument(help="Method name (see `sslkit list methods`); omit with "
                                                      "--resume.")] = None,
    dataset: Annotated[str | None, typer.Argument(help="Dataset name, `imagefolder:PATH` or `hf:PATH|NAME`; omit "
                                                       "with --resume.")] = None,
    preset: Annotated[str, typer.Option(help="Recipe: paper (the paper's CIFAR recipe) or quick (CPU).")] = "paper",
    backbone: Annotated[str | None, typer.Option(help="Backbone name (default: the preset's).")] = None,
    epochs: Annotated[int | None, typer.Option(help="Training epochs.")] = None,
    steps: Annotated[int | None, typer.Option(help="Training steps (overrides --epochs).")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Global batch size over all processes.")] = None,
    lr: Annotated[float | None, typer.Option(help="Base learning rate for batch 256 (scaled linearly).")] = None,
    image_size: Annotated[int | None, typer.Option(help="Training resolution (default: native).")] = None,
    aug: Annotated[list[str] | None, typer.Option(help="ROLE=POLICY[:k=v,...], e.g. standard=simclr:jitter=0.8")
                   ] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="key=value: a config field or method option.")
                    ] = None,
    config: Annotated[Path | None, typer.Option(help="JSON/YAML file of config values.")] = None,
    data_dir: Annotated[str | None, typer.Option(help="Where to look for the dataset first.")] = None,
    download: Annotated[bool, typer.Option(help="Download the dataset if missing (needs network).")] = False,
    out_dir: Annotated[str, typer.Option("--out", help="Parent folder of run directories.")] = "runs",
    name: Annotated[str | None, typer.Option(help="Run directory name (default method-dataset-time).")] = None,
    resume: Annotated[Path | None, typer.Option(help="Continue this run directory from its last checkpoint.")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed; default: the preset's, else 0.")] = None,
    precision: Annotated[str, typer.Option(help="auto (bf16 on GPU, fp32 on CPU), fp32, bf16 or fp16.")] = "auto",
    compile_: Annotated[bool, typer.Option("--compile", help="torch.compile the backbone (slow first step).")] = False,
    knn_every: Annotated[int | None, typer.Option(help="Run the kNN monitor every N epochs (0: off).")] = None,
    sync_bn: Annotated[bool, typer.Option("--sync-bn", help="Batch-norm statistics over every process.")] = False,
    on_nan: Annotated[str | None, typer.Option(help="stop (default: keep the last good checkpoint) or skip the "
                                                    "batch.")] = None,
) -> None:
    """Pre-train a backbone with a self-supervised METHOD on DATASET."""
    with user_errors():
        from sslkit import _registry
        from sslkit.config import load_config_file, parse_assignments, resolve
        from sslkit.engine.trainer import pretrain as run_pretrain
        from sslkit.runs import Run

        if resume is not None:
            cfg = Run.open(resume).config
            ignored = [backbone, epochs, steps, batch_size, lr, image_size, config, knn_every, aug, set_, on_nan,
                       sync_bn or None]
            if any(value is not None for value in ignored):
                err.print(f"[yellow]note:[/] --resume continues {resume} with its saved config "
                          f"({resume}/config.json); the other options given are ignored")
            run_pretrain(cfg, resume=resume)
            return
        if method is None or dataset is None:
            raise SSLKitError("sslkit pretrain needs METHOD and DATASET (e.g. sslkit pretrain simsiam cifar10), "
                              "or --resume RUN")
        aug_map = {}
        for item in aug or []:
            role, sep, spec = item.partition("=")
            if not sep or not role or not spec:
                raise SSLKitError(f"--aug expects ROLE=POLICY[:k=v,...], got {item!r} (e.g. --aug standard=simclr)")
            aug_map[role.strip()] = spec.strip()
        flags = {"preset": preset, "backbone": backbone, "epochs": epochs, "steps": steps,
                 "batch_size": batch_size, "lr": lr, "image_size": image_size, "data_dir": data_dir,
                 "download": download or None, "out": out_dir, "name": name, "seed": seed,
                 "precision": precision, "compile": compile_ or None, "knn_every": knn_every,
                 "aug": aug_map or None, "sync_bn": sync_bn or None, "on_nan": on_nan}
        cfg = resolve(method, dataset, _registry.load("methods", method), preset=preset,
                      file_values=load_config_file(config) if config else None, flags=flags,
                      sets=parse_assignments(set_ or [], "--set"))
        run_pretrain(cfg)


_EVAL_OPTIONS = "Protocol options (each for the protocol named before its colon; default in parentheses)"


def _protocol_options(**given: object) -> dict[str, object]:
    """The protocol options the user set (None = the protocol's default)."""
    return {key: value for key, value in given.items() if value is not None}


@app.command("eval")
def evaluate(
    run: Annotated[Path, typer.Argument(help="Run directory or export directory.")],
    dataset: Annotated[str, typer.Argument(help="Dataset to evaluate on (its train split trains the probe / is "
                                                "the kNN bank).")],
    protocol: Annotated[str, typer.Option(help="knn, linear, finetune or cluster.")] = "knn",
    seeds: Annotated[int, typer.Option(help="Repeat with seeds SEED..SEED+N-1; report mean ± std.")] = 1,
    seed: Annotated[int, typer.Option(help="First seed.")] = 0,
    split: Annotated[str, typer.Option(help="Split the numbers are reported on.")] = "test",
    k: Annotated[int | None, typer.Option(help="knn: neighbours (200).", rich_help_panel=_EVAL_OPTIONS)] = None,
    temperature: Annotated[float | None, typer.Option("--t", help="knn: temperature (0.1).",
                                                      rich_help_panel=_EVAL_OPTIONS)] = None,
    recipe: Annotated[str | None, typer.Option(help="linear: fast (cached features, seconds) or paper "
                                                    "(METHODS.md §2.1: augmented, lr 30, 100 epochs).",
                                               rich_help_panel=_EVAL_OPTIONS)] = None,
    fraction: Annotated[float | None, typer.Option(help="finetune: labelled fraction, stratified (0.1).",
                                                   rich_help_panel=_EVAL_OPTIONS)] = None,
    epochs: Annotated[int | None, typer.Option(help="linear/finetune: epochs (milestones scale with them).",
                                               rich_help_panel=_EVAL_OPTIONS)] = None,
    lr: Annotated[float | None, typer.Option(help="linear: learning rate.", rich_help_panel=_EVAL_OPTIONS)] = None,
    backbone_lr: Annotated[float | None, typer.Option(help="finetune: backbone learning rate.",
                                                      rich_help_panel=_EVAL_OPTIONS)] = None,
    head_lr: Annotated[float | None, typer.Option(help="finetune: classifier learning rate.",
                                                  rich_help_panel=_EVAL_OPTIONS)] = None,
    train_batch_size: Annotated[int | None, typer.Option(help="linear/finetune: training batch size.",
                                                         rich_help_panel=_EVAL_OPTIONS)] = None,
    cluster_source: Annotated[str | None, typer.Option(help="cluster: auto, head (the method's cluster head) or "
                                                            "kmeans.", rich_help_panel=_EVAL_OPTIONS)] = None,
    cluster_labels: Annotated[str | None, typer.Option(help="cluster: auto (CIFAR-100 -> 20 superclasses), fine "
                                                            "or coarse.", rich_help_panel=_EVAL_OPTIONS)] = None,
    cluster_on: Annotated[str | None, typer.Option(help="cluster: train+test (the CC protocol), train or test.",
                                                   rich_help_panel=_EVAL_OPTIONS)] = None,
    data_dir: Annotated[str | None, typer.Option(help="Where to look for the dataset first.")] = None,
    batch_size: Annotated[int, typer.Option(help="Feature-extraction batch size.")] = 512,
) -> None:
    """Evaluate a pretrained backbone on DATASET with a protocol; writes RUN/eval/<protocol>[-variant].json."""
    with user_errors():
        from sslkit.evaluate.display import print_result
        from sslkit.evaluate.protocols import evaluate as run_eval

        options = _protocol_options(k=k, temperature=temperature, recipe=recipe, fraction=fraction, epochs=epochs,
                                    lr=lr, backbone_lr=backbone_lr, head_lr=head_lr, batch_size=train_batch_size,
                                    source=cluster_source, labels=cluster_labels, on=cluster_on)
        result = run_eval(run, dataset, protocol=protocol, seeds=seeds, seed=seed, split=split, data_dir=data_dir,
                          batch_size=batch_size, progress=True, **options)
        print_result(out, result)


@app.command()
def transfer(
    run: Annotated[Path, typer.Argument(help="Run directory or export directory.")],
    dataset: Annotated[str, typer.Argument(help="Target dataset (another one than the pretraining's).")],
    mode: Annotated[str, typer.Option(help="linear (frozen backbone) or finetune (all weights).")] = "linear",
    seeds: Annotated[int, typer.Option(help="Repeat with seeds SEED..SEED+N-1; report mean ± std.")] = 1,
    seed: Annotated[int, typer.Option(help="First seed.")] = 0,
    recipe: Annotated[str | None, typer.Option(help="linear: fast or paper.")] = None,
    fraction: Annotated[float | None, typer.Option(help="finetune: labelled fraction (1.0).")] = None,
    epochs: Annotated[int | None, typer.Option(help="Training epochs of the probe / fine-tuning.")] = None,
    data_dir: Annotated[str | None, typer.Option(help="Where to look for the dataset first.")] = None,
    batch_size: Annotated[int, typer.Option(help="Feature-extraction batch size.")] = 512,
) -> None:
    """Evaluate a backbone pretrained on one dataset on another; resizes and converts channels, and says so."""
    with user_errors():
        from sslkit.evaluate.display import print_result
        from sslkit.evaluate.protocols import transfer as run_transfer

        options = _protocol_options(recipe=recipe, fraction=fraction, epochs=epochs)
        if mode == "linear" and fraction is not None:
            raise SSLKitError("--fraction is for --mode finetune")
        if mode == "finetune" and recipe is not None:
            raise SSLKitError("--recipe is for --mode linear")
        result = run_transfer(run, dataset, mode, seeds=seeds, seed=seed, data_dir=data_dir, batch_size=batch_size,
                              progress=True, **options)
        print_result(out, result)


@app.command()
def export(
    run: Annotated[Path, typer.Argument(help="Run directory to export.")],
    safetensors: Annotated[bool, typer.Option(help="Write model.safetensors (the only format for now).")] = True,
    onnx: Annotated[bool, typer.Option(help="Also write model.onnx (dynamic batch), checked against PyTorch "
                                            "with ONNX Runtime; needs sslkit[onnx].")] = False,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Export folder (default RUN/export).")] = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing export folder.")] = False,
) -> None:
    """Export the backbone: torchvision-keyed safetensors, timm-style config.json, model card."""
    with user_errors():
        from sslkit.runs import export_run

        if not safetensors:
            raise SSLKitError("nothing to export: pass --safetensors")
        path = export_run(run, out_dir, overwrite=force, onnx=onnx)
        files = "model.safetensors, config.json, README.md" + (", model.onnx" if onnx else "")
        out.print(f"exported backbone to [bold]{path}[/] ({files})")


@app.command()
def report(
    runs: Annotated[list[Path], typer.Argument(help="Run directories to compare.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for report.md and the PNG plots.")] = Path(
        "runs/report"),
    features: Annotated[str | None, typer.Option(help="Also plot each run's features of this dataset's test split, "
                                                      "coloured by label.")] = None,
    embedding: Annotated[str, typer.Option(help="pca or tsne (for --features).")] = "pca",
    max_points: Annotated[int, typer.Option(help="Images in the feature plots (stratified).")] = 2000,
    seed: Annotated[int, typer.Option(help="Seed of the image choice and t-SNE.")] = 0,
    data_dir: Annotated[str | None, typer.Option(help="Where to look for the dataset first.")] = None,
) -> None:
    """Compare runs: a results table, loss and kNN curves, feature embeddings -> OUT/report.md."""
    with user_errors():
        from sslkit.report import build_report, render_table

        result = build_report(runs, out_dir, features_dataset=features, embedding=embedding, data_dir=data_dir,
                              max_points=max_points, seed=seed)
        out.print(render_table(result.rows))
        for note in result.notes:
            out.print(f"note: {note}")
        out.print(f"wrote [bold]{result.markdown}[/] ({', '.join(p.name for p in result.files)})")


@app.command()
def augment(
    policy: Annotated[str, typer.Argument(help="Heavy policy NAME[:k=v,...] (see `sslkit list augmentations`).")],
    dataset: Annotated[str, typer.Argument(help="Dataset name, `imagefolder:PATH` or `hf:PATH|NAME`.")],
    out_file: Annotated[Path, typer.Option("--out", help="Image file to write (PNG).")] = Path("views.png"),
    n: Annotated[int, typer.Option("--n", help="Number of images (columns).")] = 8,
    split: Annotated[str, typer.Option(help="Dataset split to draw images from.")] = "train",
    standard: Annotated[str, typer.Option(help="Standard policy NAME[:k=v,...] the heavy views derive from "
                                              "(none: apply POLICY to the originals).")] = "simclr",
    image_size: Annotated[int | None, typer.Option(help="Side of the views (default: native).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the image choice and the augmentations.")] = 0,
    data_dir: Annotated[str | None, typer.Option(help="Where to look for the dataset first.")] = None,
) -> None:
    """Draw original / standard / heavy views of DATASET images, to see what POLICY does."""
    with user_errors():
        from sslkit.augment.preview import preview

        path = preview(policy, dataset, out_file, n=n, split=split, standard=standard, image_size=image_size,
                       seed=seed, data_dir=data_dir)
        rows = "original, " + ("" if standard == "none" else f"standard: {standard}, ") + f"heavy: {policy}"
        out.print(f"wrote [bold]{path}[/] (rows: {rows})")


@app.command("list")
def list_(group: Annotated[str | None, typer.Argument(help="methods, augmentations, datasets or backbones.")] = None
          ) -> None:
    """List registered methods, augmentation policies, datasets and backbones."""
    with user_errors():
        from sslkit.listing import print_groups

        print_groups(out, group)


if __name__ == "__main__":  # pragma: no cover
    app()
