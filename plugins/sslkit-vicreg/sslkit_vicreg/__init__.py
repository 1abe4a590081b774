"""sslkit-vicreg: VICReg (Bardes, Ponce and LeCun, ICLR 2022) as a third-party sslkit plugin.

Registered under the ``sslkit.methods`` entry-point group as ``vicreg``; importing this package does
not import torch (the method and the loss live in :mod:`sslkit_vicreg.method` and
:mod:`sslkit_vicreg.loss`, loaded only when used).
"""

__version__ = "0.1.0"
