"""kubeface: shared pieces of the face-recognition mesh (settings, database, queue, logs, CLI)."""
