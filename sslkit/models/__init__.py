"""sslkit.models: backbones (torchvision ResNets, a small CNN) and the MLP head builder."""

from sslkit.models.heads import mlp
from sslkit.models.resnet import ResNetBackbone, resnet18, resnet34, resnet50
from sslkit.models.smallcnn import SmallCNN, smallcnn

__all__ = ["ResNetBackbone", "SmallCNN", "mlp", "resnet18", "resnet34", "resnet50", "smallcnn"]
