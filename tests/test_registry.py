"""Entry-point discovery: lazy loading, unknown names, duplicates, broken plugins."""

from __future__ import annotations

import importlib.metadata as md
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sslkit import _registry
from sslkit.errors import SSLKitError


class FakeDist:
    def __init__(self, name: str) -> None:
        self.name = name


def fake_ep(name: str, value: str, group: str, dist: str) -> md.EntryPoint:
    ep = md.EntryPoint(name=name, value=value, group=f"sslkit.{group}")
    # EntryPoint is immutable; _for() is how importlib attaches the distribution
    return ep._for(FakeDist(dist))


@pytest.fixture
def fake_registry(monkeypatch: pytest.MonkeyPatch):
    points: dict[str, list[md.EntryPoint]] = {}
    real = _registry._entry_points

    def entry_points(group: str) -> list[md.EntryPoint]:
        return points[group] if group in points else real(group)

    monkeypatch.setattr(_registry, "_entry_points", entry_points)
    _registry.clear_cache()
    yield points
    _registry.clear_cache()


def test_builtins_are_registered() -> None:
    assert "simsiam" in _registry.names("methods")
    assert {"fashion-mnist", "mnist", "cifar10", "cifar100", "stl10", "digits", "imagefolder", "hf"} <= set(
        _registry.names("datasets"))
    assert {"resnet18", "resnet34", "resnet50", "smallcnn"} <= set(_registry.names("backbones"))
    assert {"simclr", "weak"} <= set(_registry.names("augmentations"))
    assert _registry.get("methods", "simsiam").distribution == "sslkit"


def test_unknown_name_lists_valid_names_and_closest_match() -> None:
    with pytest.raises(SSLKitError) as info:
        _registry.get("methods", "simsam")
    message = str(info.value)
    assert "did you mean 'simsiam'" in message and "valid methods:" in message and "simsiam" in message


def test_loading_is_lazy_and_returns_the_object(fake_registry) -> None:
    fake_registry["methods"] = [fake_ep("json-dumps", "json:dumps", "methods", "fakedist")]
    import json

    assert _registry.load("methods", "json-dumps") is json.dumps


def test_duplicate_name_from_two_distributions_names_both(fake_registry) -> None:
    fake_registry["methods"] = [fake_ep("twin", "json:dumps", "methods", "dist-a"),
                                fake_ep("twin", "json:loads", "methods", "dist-b"),
                                fake_ep("single", "json:loads", "methods", "dist-b")]
    assert _registry.names("methods") == ["single", "twin"]  # discovery still works
    with pytest.raises(SSLKitError, match="registered twice: by 'dist-a'.*by 'dist-b'.*uninstall one"):
        _registry.load("methods", "twin")
    import json

    assert _registry.load("methods", "single") is json.loads  # other names are unaffected


def test_same_entry_point_seen_twice_is_not_a_duplicate(fake_registry) -> None:
    fake_registry["methods"] = [fake_ep("once", "json:dumps", "methods", "dist-a"),
                                fake_ep("once", "json:dumps", "methods", "dist-a")]
    import json

    assert _registry.load("methods", "once") is json.dumps


def test_broken_plugin_names_its_distribution(fake_registry) -> None:
    fake_registry["methods"] = [fake_ep("broken", "sslkit_no_such_module:thing", "methods", "sslkit-broken")]
    with pytest.raises(SSLKitError, match="from distribution 'sslkit-broken' failed to load"):
        _registry.load("methods", "broken")


def test_plugin_error_is_reported_on_one_line(fake_registry, tmp_path, monkeypatch) -> None:
    (tmp_path / "sslkit_multiline_plugin.py").write_text('raise RuntimeError("first line\\nsecond line")\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    fake_registry["methods"] = [fake_ep("multi", "sslkit_multiline_plugin:M", "methods", "sslkit-multi")]
    with pytest.raises(SSLKitError) as info:
        _registry.load("methods", "multi")
    assert "RuntimeError: first line" in str(info.value) and "\n" not in str(info.value)


PLUGIN_CODE = '''
"""A tiny third-party backbone registered through sslkit's entry points."""
from torch import nn


def tinynet(in_channels=3, image_size=32, **kwargs):
    """Tiny test backbone from a separately installed distribution."""
    net = nn.Sequential(nn.Conv2d(in_channels, 8, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    net.num_features = 8
    return net
'''


def test_installed_plugin_is_discovered_by_the_cli(tmp_path: Path) -> None:
    """Build and pip-install a real plugin distribution into a target folder, then run the CLI."""
    src = tmp_path / "src"
    (src / "sslkit_tinynet").mkdir(parents=True)
    (src / "sslkit_tinynet" / "__init__.py").write_text(PLUGIN_CODE)
    (src / "pyproject.toml").write_text(textwrap.dedent("""
        [build-system]
        requires = ["setuptools>=68"]
        build-backend = "setuptools.build_meta"
        [project]
        name = "sslkit-tinynet"
        version = "0.0.1"
        [project.entry-points."sslkit.backbones"]
        tinynet = "sslkit_tinynet:tinynet"
        [project.entry-points."sslkit.methods"]
        broken-method = "sslkit_tinynet.missing:Method"
    """))
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(src)], check=True)
    env = {"PYTHONPATH": str(target), "COLUMNS": "200", "PATH": "/usr/bin:/bin"}
    listing = subprocess.run([sys.executable, "-m", "sslkit", "list"], capture_output=True, text=True, env=env)
    assert listing.returncode == 0, listing.stderr
    assert "tinynet" in listing.stdout and "sslkit-tinynet" in listing.stdout
    assert "Tiny test backbone" in listing.stdout
    assert "failed to load" in listing.stdout  # the broken method is reported, the listing still works
    helped = subprocess.run([sys.executable, "-m", "sslkit", "--help"], capture_output=True, text=True, env=env)
    assert helped.returncode == 0 and "pretrain" in helped.stdout
    failed = subprocess.run([sys.executable, "-m", "sslkit", "pretrain", "broken-method", "digits"],
                            capture_output=True, text=True, env=env)
    assert failed.returncode == 2
    assert "sslkit-tinynet" in failed.stderr and "Traceback" not in failed.stderr
