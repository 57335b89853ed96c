"""The frontend: a read-only, server-rendered results browser for operators."""
