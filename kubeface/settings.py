"""One typed settings object for every service, read once from the environment (and `.env`)."""

from __future__ import annotations

import os
import stat
from collections.abc import Collection, Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from kubeface.cpus import usable_cpus
from kubeface.db_tls import MysqlSslMode, check_tls_settings
from kubeface.image_limits import DEFAULT_MAX_BYTES, DEFAULT_MAX_PIXELS

# Values that are fine on a laptop and must never reach production.
PLACEHOLDER_SECRETS = {"", "kubeface", "changeme", "change-me"}
# The file `Settings()` reads in the working directory; the process environment overrides it.
ENV_FILE = ".env"
# Room for the processor's database writes after the recognizer's deadline (nsq_msg_timeout_seconds).
NSQ_WRITE_MARGIN_SECONDS = 30.0


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class DetectionModel(StrEnum):
    AUTO = "auto"  # CNN when dlib was built with CUDA, else HOG
    HOG = "hog"
    CNN = "cnn"


def _dotenv(env_file: str | Path | None) -> Mapping[str, str | None]:
    """The variables of `env_file`, or none when it is not there."""
    if env_file is None:
        return {}
    path = Path(env_file).expanduser()
    try:
        mode = path.stat().st_mode
    except OSError:
        return {}
    if not (stat.S_ISREG(mode) or stat.S_ISFIFO(mode)):
        return {}
    # Imported only when there is a file: most processes (pods, tests) have none.
    from dotenv import dotenv_values

    return dotenv_values(path, encoding="utf-8")


def _from_environment(env_file: str | Path | None, fields: Collection[str]) -> dict[str, str]:
    """The values of `fields` given by `env_file`, then by the process environment (which wins).

    Variable names are the field names in any case; other variables are ignored, and a `.env`
    line without a value (`NAME`) sets nothing.
    """
    found: dict[str, str] = {}
    for source in (_dotenv(env_file), os.environ):
        for name, value in source.items():
            key = name.lower()
            if value is not None and key in fields:
                found[key] = value
    return found


class Settings(BaseModel):
    """Every setting of every service. The same names everywhere; see the README table.

    `Settings()` reads the environment and `.env` itself, as pydantic-settings did: importing that
    was a fifth of `kubeface status`'s run (issue 15). Keyword arguments win over the process
    environment, which wins over `.env`; `_env_file=None` reads no file.
    """

    # As pydantic-settings' defaults: defaults go through the validators too.
    model_config = ConfigDict(extra="ignore", validate_default=True, arbitrary_types_allowed=True)

    def __init__(self, *, _env_file: str | Path | None = ENV_FILE, **values: Any) -> None:
        super().__init__(**{**_from_environment(_env_file, type(self).model_fields), **values})

    environment: Environment = Environment.DEVELOPMENT
    log_level: str = "INFO"

    image_root: Path = Path("images")
    # Image files larger than this are refused unread (FAILED, or a placeholder preview).
    image_max_bytes: int = Field(default=DEFAULT_MAX_BYTES, ge=1024)
    # Images whose header claims more pixels are refused undecoded (decompression bombs).
    image_max_pixels: int = Field(default=DEFAULT_MAX_PIXELS, ge=1)
    # Where `kubeface migrate` finds the SQL files; images set it, a checkout uses ./migrations.
    migrations_dir: Path = Path(__file__).resolve().parent.parent / "migrations"

    mysql_host: str = "127.0.0.1"
    mysql_port: int = 3306
    mysql_database: str = "kubeface"
    mysql_user: str = "kubeface"
    mysql_password: SecretStr = SecretStr("kubeface")
    mysql_pool_size: int = Field(default=8, ge=1)
    # TLS to MySQL, named as the MySQL client's --ssl-mode/--ssl-ca/--ssl-cert/--ssl-key
    # (kubeface/db_tls.py). preferred: TLS when the server offers it, unverified, and none on this
    # machine's loopback; required: TLS or no connection; verify_ca: and the server's certificate
    # chains to MYSQL_SSL_CA; verify_identity: and names MYSQL_HOST. The CA is required by, and
    # only allowed with, the verify modes; the client certificate only with modes that always use TLS.
    mysql_ssl_mode: MysqlSslMode = MysqlSslMode.PREFERRED
    mysql_ssl_ca: Path | None = None
    mysql_ssl_cert: Path | None = None  # PEM; holds the key too unless MYSQL_SSL_KEY is set
    mysql_ssl_key: Path | None = None

    nsqd_http_address: str = "127.0.0.1:4151"
    # Comma-separated in the environment.
    nsqlookupd_http_addresses: list[str] = ["127.0.0.1:4161"]
    nsq_topic: str = "images"
    nsq_channel: str = "processor"
    # The processor publishes each committed outcome here (kubeface/outcomes.py); the receiver
    # (GET /image/{id}?wait, /events) and the frontend (/events) read it on ephemeral channels.
    nsq_outcomes_topic: str = "outcomes"
    # Per receiver process or frontend replica: clients waiting (?wait) or streaming (/events) at once;
    # one more gets 503 with Retry-After.
    outcome_max_subscribers: int = Field(default=1000, ge=1)
    # Events buffered for one /events client; a client that falls this far behind is dropped.
    outcome_client_buffer: int = Field(default=256, ge=1)
    # How often /events sends a comment line, so that proxies keep an idle stream open.
    events_heartbeat_seconds: float = Field(default=15.0, gt=0)
    # The frontend re-reads its status counts at most this often; between reads it moves them by
    # the outcome events, so an open page costs no GROUP BY per event.
    frontend_counts_max_age_seconds: float = Field(default=10.0, gt=0)

    # When set, the receiver's write endpoints need `Authorization: Bearer <API_TOKEN>`.
    api_token: SecretStr | None = None

    bind_host: str = "127.0.0.1"
    receiver_port: int = 8000
    frontend_port: int = 8081
    recognizer_port: int = 50051
    processor_metrics_port: int = 9101
    recognizer_metrics_port: int = 9102
    # The clustering worker's /metrics (also its liveness probe).
    cluster_metrics_port: int = 9103
    # How often the clustering worker looks for unknown faces it has not placed yet, and how many
    # it places per look (kubeface/cluster_worker.py).
    cluster_poll_seconds: float = Field(default=1.0, gt=0)
    cluster_batch: int = Field(default=500, ge=1)

    recognizer_address: str = "127.0.0.1:50051"
    recognizer_timeout_seconds: float = Field(default=30.0, gt=0)
    recognizer_workers: int = Field(default=2, ge=1)
    detection_model: DetectionModel = DetectionModel.AUTO
    detection_upsample: int = Field(default=1, ge=0)
    # Images larger than this (longest side, pixels) are scaled down for detection only;
    # the boxes are mapped back and faces are encoded at full resolution. 0 disables it.
    # Detection runs on a level of dlib's scale pyramid with this longest side at most, which keeps
    # plain face_recognition's boxes (and so its distances): within 0.04 of its distances on the
    # manifest photos at 1280, against 0.053 at 1024 (`make bench`).
    detection_max_side: int = Field(default=1280, ge=0)
    # Look without upsampling first and upsample only when that finds no face (4x less work for
    # photos whose faces are over ~80 px at the detection scale).
    detection_adaptive_upsample: bool = True
    # How long the recognizer holds the first image of a batch for concurrent requests' images
    # to join it (recognizer/batching.py). "auto": 5 ms when dlib uses a GPU, else 0 (a batch is
    # then what queued while the previous one ran). A batch holds at most RECOGNIZER_WORKERS images.
    recognizer_batch_wait_ms: float | None = Field(default=None, ge=0, le=1000)
    # Recognizer server processes sharing RECOGNIZER_PORT (SO_REUSEPORT); dlib recognises one
    # image at a time per process, so processes are how one recognizer uses several cores.
    # "auto": one per usable CPU (affinity mask, capped by a cgroup CPU limit: a k8s pod runs as
    # many as its limits.cpu). Each process holds its own copy of the gallery.
    recognizer_processes: int | None = Field(default=None, ge=1)
    # gRPC connections each client (the processor) opens to RECOGNIZER_ADDRESS. Processes sharing
    # a port are reached per connection (the kernel spreads connections, not calls), so a client
    # needs several, and sends each call to the least busy process it reaches (kubeface/
    # recognizer_pool.py). "auto": 4 per usable CPU, at least 8: a process reached by none of them
    # stays idle, with chance P*(1-1/P)**C for P processes and C connections.
    recognizer_connections: int | None = Field(default=None, ge=1)
    match_tolerance: float = Field(default=0.6, gt=0)
    # How often each recognizer loads the faces enrolled since its last look.
    gallery_refresh_seconds: float = Field(default=2.0, gt=0)
    # The recognizer's /livez fails once one image's recognition (reading, waiting for its batch,
    # detecting, encoding) has run this long: a thread is wedged and the pod must restart. The
    # slowest real image takes seconds; a batch holds at most RECOGNIZER_WORKERS images.
    recognizer_wedged_seconds: float = Field(default=120.0, gt=0)

    processor_workers: int = Field(default=4, ge=1)
    # How long a processor's claim on a row holds: after it, another processor may take the row
    # over (its holder is taken for dead), and a message for a held row is requeued this long.
    # It must outlast the longest live hold, NSQ_MSG_TIMEOUT_SECONDS (after which nsqd redelivers
    # anyway). RETRY_LEASE_SECONDS must be at least this: the retry job must not re-queue a row a
    # live processor still holds (its outcome would be refused and the image recognised twice).
    # Both are refused otherwise in production; tests shorten the retry lease on purpose.
    processor_lease_seconds: float = Field(default=300.0, gt=0)
    processor_max_attempts: int = Field(default=3, ge=1)
    breaker_fail_max: int = Field(default=5, ge=1)
    breaker_probe_initial_seconds: float = Field(default=1.0, gt=0)
    breaker_probe_max_seconds: float = Field(default=30.0, gt=0)
    breaker_requeue_delay_seconds: float = Field(default=5.0, ge=0)
    # glibc malloc in the processor (kubeface/malloc.py): how many arenas its threads share
    # (0 = glibc's default, 8 per core) and how often the free memory they keep is handed back
    # to the OS (0 = never). Without them its RSS crept up by fragmentation, not by a leak.
    processor_malloc_arenas: int = Field(default=2, ge=0)
    processor_malloc_trim_seconds: float = Field(default=60.0, ge=0)
    # Debugging a leak only: every this many seconds the processor logs what grew since its
    # first report (tracemalloc lines, object counts, glibc heap; kubeface/memory_debug.py).
    # 0 = off. Tracing slows the process, so never in production.
    memory_debug_seconds: float = Field(default=0.0, ge=0)

    retry_max_attempts: int = Field(default=5, ge=1)
    retry_backoff_seconds: float = Field(default=60.0, ge=0)
    # The retry job re-queues PROCESSING rows older than this (a dead processor's); see
    # PROCESSOR_LEASE_SECONDS for why it is never shorter than the processor's lease.
    retry_lease_seconds: float = Field(default=300.0, gt=0)
    retry_batch_size: int = Field(default=1000, ge=1)

    receiver_max_batch: int = Field(default=1000, ge=1)
    # Receiver server processes sharing RECEIVER_PORT (SO_REUSEPORT; /metrics adds up all of
    # them). "auto": one per usable CPU, as RECOGNIZER_PROCESSES: one process accepts about
    # 1,000 posts/s. A k8s pod's CPU limit (1) keeps it one; there, replicas scale it.
    receiver_processes: int | None = Field(default=None, ge=1)
    # Fault injection for the chaos tests: the receiver exits between commit and publish.
    fault_crash_after_commit: bool = False
    # A full batch of long paths fits; anything larger is refused with 413 while it streams in.
    receiver_max_body_bytes: int = Field(default=2 * 1024 * 1024, ge=1024)
    # POST /image/upload: a request body (all its files) larger than this is refused with 413
    # while it streams in; IMAGE_MAX_BYTES still caps what the recognizer will open.
    upload_max_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)
    frontend_page_size: int = Field(default=50, ge=1, le=500)
    # A search (`/?q=`) first tries this many newest rows of the page's range by REGEXP; only a
    # page it does not fill asks the full-text index (frontend/search.py). Larger: common words
    # stay off the index more often, at more rows per search.
    frontend_search_window: int = Field(default=5_000, ge=100, le=100_000)
    # A search's full-text step running longer is stopped (MariaDB's max_statement_time) and the
    # page says to narrow the search: the slow cases read a share of the table.
    frontend_search_max_seconds: float = Field(default=2.0, gt=0, le=300)
    # The frontend's operator actions go to the receiver, sending API_TOKEN as the bearer token.
    frontend_receiver_url: str | None = None  # default http://127.0.0.1:$RECEIVER_PORT
    # When both are set, every frontend page asks for HTTP basic auth and the operator forms are
    # on; when neither is, the frontend is read-only (its write routes answer 403). One alone is
    # refused at the frontend's start, as is API_TOKEN without them in production.
    frontend_user: str | None = None
    frontend_password: SecretStr | None = None
    # Thumbnails are cached on disk here; default: a folder in the system's temp dir.
    frontend_cache_dir: Path | None = None
    # The thumbnail cache is kept under this many bytes, least recently used first out; the k8s
    # volume for it is 64 Mi.
    frontend_cache_max_bytes: int = Field(default=48 * 1024 * 1024, ge=1024 * 1024)
    # The most pixels the frontend decodes at once, all previews in progress together (a JPEG
    # counts at the reduced size it is decoded at). At most 4 bytes a pixel: 24 Mpixel is 96 MB,
    # within the frontend's 256 Mi. A larger image gets the placeholder.
    frontend_preview_max_pixels: int = Field(default=24_000_000, ge=1_000_000)
    # What the system panel and `kubeface status` scrape; defaults: 127.0.0.1 and the ports above.
    processor_metrics_url: str | None = None
    recognizer_metrics_url: str | None = None

    @field_validator(
        "recognizer_batch_wait_ms",
        "recognizer_processes",
        "recognizer_connections",
        "receiver_processes",
        mode="before",
    )
    @classmethod
    def _auto_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and value.strip().lower() in ("", "auto") else value

    @field_validator("mysql_ssl_mode", mode="before")
    @classmethod
    def _ssl_mode_any_case(cls, value: object) -> object:
        # As the MySQL client writes them: VERIFY_IDENTITY.
        return value.strip().lower().replace("-", "_") if isinstance(value, str) else value

    @field_validator("mysql_ssl_ca", "mysql_ssl_cert", "mysql_ssl_key", mode="before")
    @classmethod
    def _empty_path_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _check_mysql_tls(self) -> Settings:
        check_tls_settings(self.mysql_ssl_mode, self.mysql_ssl_ca, self.mysql_ssl_cert, self.mysql_ssl_key)
        return self

    @field_validator("nsqlookupd_http_addresses", mode="before")
    @classmethod
    def _split_addresses(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @model_validator(mode="after")
    def _refuse_uploads_the_recognizer_would_refuse(self) -> Settings:
        # Otherwise an upload is accepted, stored and queued, only to end FAILED as too large.
        if self.upload_max_bytes > self.image_max_bytes:
            raise ValueError(
                f"UPLOAD_MAX_BYTES ({self.upload_max_bytes}) is above IMAGE_MAX_BYTES"
                f" ({self.image_max_bytes}), the largest file the recognizer reads; lower it or raise"
                " IMAGE_MAX_BYTES"
            )
        return self

    @model_validator(mode="after")
    def _refuse_placeholders_in_production(self) -> Settings:
        if self.environment is not Environment.PRODUCTION:
            return self
        secrets = {
            "MYSQL_PASSWORD": self.mysql_password,
            "API_TOKEN": self.api_token,
            # Only with a user: alone it is refused at the frontend's start with a clearer message.
            "FRONTEND_PASSWORD": self.frontend_password if self.frontend_user else None,
        }
        for name, secret in secrets.items():
            if secret is not None and secret.get_secret_value() in PLACEHOLDER_SECRETS:
                raise ValueError(f"{name} is a development placeholder; set a real secret in production")
        if self.fault_crash_after_commit:
            raise ValueError("FAULT_CRASH_AFTER_COMMIT is for tests; it must be off in production")
        self._check_leases()
        return self

    def _check_leases(self) -> None:
        """Refuse leases that would hand a live processor's row to someone else."""
        if self.processor_lease_seconds <= self.nsq_msg_timeout_seconds:
            raise ValueError(
                f"PROCESSOR_LEASE_SECONDS ({self.processor_lease_seconds:g}) must exceed the NSQ message"
                f" timeout ({self.nsq_msg_timeout_seconds:g} = RECOGNIZER_TIMEOUT_SECONDS +"
                f" {NSQ_WRITE_MARGIN_SECONDS:g}); raise it or lower RECOGNIZER_TIMEOUT_SECONDS"
            )
        if self.retry_lease_seconds < self.processor_lease_seconds:
            raise ValueError(
                f"RETRY_LEASE_SECONDS ({self.retry_lease_seconds:g}) is shorter than"
                f" PROCESSOR_LEASE_SECONDS ({self.processor_lease_seconds:g}): the retry job would"
                " re-queue rows live processors still hold; set it at least as long"
            )

    @property
    def nsq_msg_timeout_seconds(self) -> float:
        """How long nsqd waits for the processor to finish a message before redelivering it.

        The processor finishes a message only after the recognizer call (bounded by its deadline)
        and the outcome's writes, so the timeout is the deadline plus a margin for the writes;
        shorter, and a slow but live message would be redelivered and recognised twice.
        """
        return self.recognizer_timeout_seconds + NSQ_WRITE_MARGIN_SECONDS

    @property
    def gallery_catch_up_seconds(self) -> float:
        """How long the processor waits before retrying an image the recognizer saw with an old
        gallery (someone was enrolled since its last refresh).

        Derived, not a setting: one refresh period is exactly when the recognizer has loaded the
        newest faces; shorter would find it still behind, longer only delays the image.
        """
        return self.gallery_refresh_seconds

    @property
    def resolved_recognizer_processes(self) -> int:
        """RECOGNIZER_PROCESSES, or by default one per CPU this process may use."""
        return self.recognizer_processes or usable_cpus()

    @property
    def resolved_receiver_processes(self) -> int:
        """RECEIVER_PROCESSES, or by default one per CPU this process may use."""
        return self.receiver_processes or usable_cpus()

    @property
    def resolved_recognizer_connections(self) -> int:
        """RECOGNIZER_CONNECTIONS, or by default 4 per usable CPU, at least 8."""
        return self.recognizer_connections or max(8, 4 * usable_cpus())

    @property
    def resolved_image_root(self) -> Path:
        return self.image_root.expanduser().resolve()


class SettingsError(ValueError):
    """Wrong settings, in one line naming each variable and what to do, without their values
    (pydantic's own message repeats the input, passwords included)."""


def load_settings(**overrides: Any) -> Settings:
    """Read the settings once, in a process's main(); `overrides` are field values of each
    field's own type, which pydantic checks. Wrong ones raise SettingsError."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise SettingsError(describe_invalid(exc)) from exc


def describe_invalid(exc: ValidationError) -> str:
    """One line for all of a ValidationError's problems: `NAME: why` (a check of several settings
    names them itself)."""
    problems = []
    for error in exc.errors(include_input=False, include_url=False):
        why = error["msg"].removeprefix("Value error, ")
        where = error["loc"][0] if error["loc"] else None
        problems.append(f"{str(where).upper()}: {why}" if where is not None else why)
    return "invalid settings: " + "; ".join(problems)
