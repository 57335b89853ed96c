"""The gRPC channel every caller of the recognizer uses: balanced, quick to reconnect, retrying."""

from __future__ import annotations

import json

import grpc

# round_robin spreads calls over every address the target resolves to (a headless Service, or
# "ipv4:host:port,host:port"). UNAVAILABLE is retried on another backend, which is what a
# recognizer answers while it drains during a rolling restart; Identify and Encode are idempotent.
_SERVICE_CONFIG = json.dumps(
    {
        "loadBalancingConfig": [{"round_robin": {}}],
        "methodConfig": [
            {
                "name": [{"service": "kubeface.recognizer.v1.Recognizer"}],
                "retryPolicy": {
                    "maxAttempts": 3,
                    "initialBackoff": "0.2s",
                    "maxBackoff": "2s",
                    "backoffMultiplier": 2,
                    "retryableStatusCodes": ["UNAVAILABLE"],
                },
            }
        ],
    }
)


def recognizer_channel(address: str, *, own_connections: bool = False) -> grpc.Channel:
    """A channel to `address`; with `own_connections`, its connections are its own, never shared
    with other channels of this process (gRPC shares them by default)."""
    return grpc.insecure_channel(
        address,
        options=[
            ("grpc.use_local_subchannel_pool", 1 if own_connections else 0),
            ("grpc.service_config", _SERVICE_CONFIG),
            ("grpc.enable_retries", 1),
            # The default reconnect backoff grows to 120 s; a restarted recognizer must be found
            # again within seconds, or health probes keep seeing UNAVAILABLE.
            ("grpc.initial_reconnect_backoff_ms", 250),
            ("grpc.min_reconnect_backoff_ms", 250),
            ("grpc.max_reconnect_backoff_ms", 2000),
        ],
    )
