"""Evaluation protocols: knn, linear, finetune, cluster (``sslkit eval``) and transfer (``sslkit transfer``)."""
