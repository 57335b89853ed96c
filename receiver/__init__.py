"""The receiver: an HTTP API that stores posted image paths and queues their ids."""
