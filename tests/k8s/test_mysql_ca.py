"""Every pod that runs kubeface can read an optional MySQL CA bundle (MYSQL_SSL_CA), the same path in all."""

from __future__ import annotations

import pytest

from tests.k8s.render import OVERLAYS, pod_templates

APP_IMAGES = ("ghcr.io/kubeface/kubeface", "localhost/kubeface")
CA_FOLDER = "/etc/kubeface/mysql-ca"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_kubeface_container_mounts_the_optional_mysql_ca(overlay: str) -> None:
    checked = []
    for workload, template in pod_templates(overlay):
        spec = template["spec"]
        for app in (c for c in spec["containers"] if c["image"].startswith(APP_IMAGES)):
            mounts = {m["mountPath"]: m for m in app.get("volumeMounts", [])}
            assert CA_FOLDER in mounts, f"{workload} cannot read MYSQL_SSL_CA under {CA_FOLDER}"
            (volume,) = [v for v in spec["volumes"] if v["name"] == mounts[CA_FOLDER]["name"]]
            # Optional: a cluster without a CA (MYSQL_SSL_MODE=preferred) starts as before.
            assert volume["configMap"] == {"name": "kubeface-mysql-ca", "optional": True}
            checked.append(workload)
    assert len(checked) >= 7, checked
