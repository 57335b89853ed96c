"""The recognizer: a gRPC service that finds faces and names the nearest known person."""
