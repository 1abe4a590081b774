"""sslkit.engine."""
