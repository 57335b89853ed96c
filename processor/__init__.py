"""The processor: consumes image ids from NSQ, asks the recognizer, records the outcome."""
