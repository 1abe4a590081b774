"""sslkit.methods."""
