"""Evaluation protocols: knn (linear, finetune and cluster follow)."""
