"""Operator actions, sent to the receiver's HTTP API: the frontend's own database account is read-only."""

from __future__ import annotations

from urllib.parse import quote

import httpx

from frontend.access import operator_credentials
from kubeface.settings import Settings

# The receiver records this login as the actor of each write (receiver/auth.py decodes it).
ACTOR_HEADER = "x-kubeface-actor"


class ActionFailed(Exception):
    """The receiver refused or could not be reached; the message says what to do."""

    def __init__(self, message: str, status_code: int = 502) -> None:
        super().__init__(message)
        self.status_code = status_code


class ReceiverClient:
    """Calls the receiver's write endpoints with the operator token (API_TOKEN) as the bearer,
    naming the signed-in operator (FRONTEND_USER) for the audit log."""

    def __init__(self, settings: Settings, timeout_seconds: float = 60.0) -> None:
        base = settings.frontend_receiver_url or f"http://127.0.0.1:{settings.receiver_port}"
        headers = {}
        if settings.api_token is not None:
            headers["authorization"] = f"Bearer {settings.api_token.get_secret_value()}"
        credentials = operator_credentials(settings)
        if credentials is not None:
            # Percent-encoded: header values travel as latin-1, and a login may be any UTF-8.
            headers[ACTOR_HEADER] = quote(credentials[0], safe="")
        self._client = httpx.Client(base_url=base.rstrip("/"), headers=headers, timeout=timeout_seconds)

    def _post(self, path: str, body: dict | None = None) -> dict:
        return self._call("POST", path, body)

    def _call(self, method: str, path: str, body: dict | None = None) -> dict:
        try:
            response = self._client.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise ActionFailed(f"the receiver at {self._client.base_url} is unreachable: {exc}") from exc
        try:
            answer = response.json()
        except ValueError:
            answer = {"error": response.text[:200]}
        if response.status_code == 401:
            raise ActionFailed(
                "the receiver refused the frontend's operator token; set API_TOKEN for the frontend"
                " to the receiver's API_TOKEN",
                status_code=502,
            )
        if not response.is_success:
            status = response.status_code if response.status_code < 500 else 502
            raise ActionFailed(str(answer.get("error") or answer), status_code=status)
        return answer

    def requeue(self, image_id: int) -> dict:
        return self._post(f"/image/{image_id}/requeue")

    def requeue_all(self, status: str) -> dict:
        return self._post("/images/requeue", {"status": status})

    def enrol_from_image(self, image_id: int, name: str, face: int) -> dict:
        """A new person; the receiver answers 409 when the name is taken."""
        return self._post(f"/image/{image_id}/enroll", {"name": name, "face": face})

    def add_face_to_person(self, image_id: int, person_id: int, face: int) -> dict:
        return self._post(f"/image/{image_id}/enroll", {"person_id": person_id, "face": face})

    def rename_person(self, person_id: int, name: str) -> dict:
        return self._call("PATCH", f"/person/{person_id}", {"name": name})

    def merge_person(self, person_id: int, into: int) -> dict:
        return self._post(f"/person/{person_id}/merge", {"into": into})

    def remove_photo(self, person_id: int, photo_id: int) -> dict:
        return self._call("DELETE", f"/person/{person_id}/photos/{photo_id}")

    def erase_person(self, person_id: int) -> dict:
        return self._call("DELETE", f"/person/{person_id}")

    def enrol_cluster(self, cluster_id: int, name: str) -> dict:
        return self._post(f"/cluster/{cluster_id}/enroll", {"name": name})

    def add_cluster_to_person(self, cluster_id: int, person_id: int) -> dict:
        return self._post(f"/cluster/{cluster_id}/enroll", {"person_id": person_id})

    def ignore_cluster(self, cluster_id: int) -> dict:
        return self._post(f"/cluster/{cluster_id}/ignore")

    def remove_cluster_face(self, cluster_id: int, face_id: int) -> dict:
        return self._call("DELETE", f"/cluster/{cluster_id}/faces/{face_id}")

    def close(self) -> None:
        self._client.close()
