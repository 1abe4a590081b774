"""Losses as plain functions of tensors, one per file, each tested against its formula."""

from sslkit.losses.barlow_twins import barlow_twins
from sslkit.losses.cluster_contrastive import cluster_contrastive
from sslkit.losses.infonce_queue import infonce_queue
from sslkit.losses.negative_cosine import negative_cosine
from sslkit.losses.normalized_mse import normalized_mse
from sslkit.losses.nt_xent import nt_xent
from sslkit.losses.relation import relation

__all__ = ["barlow_twins", "cluster_contrastive", "infonce_queue", "negative_cosine", "normalized_mse", "nt_xent",
           "relation"]
