"""``python -m sslkit`` (and ``accelerate launch -m sslkit``, ``torchrun -m sslkit``)."""

from sslkit.cli import app

app(prog_name="sslkit")
