"""Azure ML at the wire: the real ``azure.ai.ml.MLClient`` over an azure-core transport we control.

:class:`WireTransport` is azure-core's own ``RequestsTransport`` with one change: its requests
session sends through :class:`WireAdapter`, which hands each prepared request to a
:class:`Workspace` instead of a socket. Everything above the socket runs for real: the SDK's
client-side validation and serialisation, azure-core's pipeline policies (bearer token, retries,
headers), long-running-operation pollers and the ``requests`` response handling.

:class:`Workspace` answers the Azure Resource Manager routes of one Machine Learning workspace
(``Microsoft.MachineLearningServices``) with bodies shaped like the REST API's published
examples (``x-ms-examples`` in Azure/azure-rest-api-specs): an ARM envelope (``id``, ``name``,
``type``, ``systemData``, ``properties``), ``provisioningState`` on asynchronous resources, and
``Azure-AsyncOperation`` / ``Location`` headers that the SDK's pollers follow. Every request body
is checked against the JSON Schema of its operation (``tests/fixtures/azure_rest``): a body the
schema refuses gets the service's ``400 UserError`` and is listed in :attr:`Workspace.violations`.
Every request is recorded in :attr:`Workspace.requests`; anything without a route gets a 501 and
is listed in :attr:`Workspace.unrouted`.
"""

from __future__ import annotations

import base64
import copy
import io
import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlsplit

import urllib3
from azure.core.credentials import AccessToken
from azure.core.pipeline.transport import RequestsTransport
from requests import PreparedRequest, Response, Session
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict

SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
RESOURCE_GROUP = "rg-ctloop-dev"
WORKSPACE = "mlw-ctloop-dev"
REGION = "westeurope"
ARM = "https://management.azure.com"
WS_ID = (
    f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}"
    f"/providers/Microsoft.MachineLearningServices/workspaces/{WORKSPACE}"
)
OPERATIONS = f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.MachineLearningServices/locations/{REGION}"
STORAGE_ACCOUNT = "stctloopdev"
STORAGE_ID = (
    f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}"
    f"/providers/Microsoft.Storage/storageAccounts/{STORAGE_ACCOUNT}"
)
BLOB_HOST = f"{STORAGE_ACCOUNT}.blob.core.windows.net"
API_HOST = f"{REGION}.api.azureml.ms"
CONTAINER = "azureml-blobstore-0f0e0d0c"
SCHEMAS = Path(__file__).resolve().parents[1] / "fixtures" / "azure_rest"
SAS_QUERY = "skoid=ws&sktid=t&skt=2026-01-01T00%3A00%3A00Z&sv=2021-10-04&sr=d&sp=rcwl&sig=c2lnbmF0dXJl"


def _jwt(claims: dict[str, Any]) -> str:
    """An unsigned JWT of the shape Entra ID issues (azure-ai-ml decodes the caller's token)."""

    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'typ': 'JWT', 'alg': 'RS256'})}.{part(claims)}.c2lnbmF0dXJl"


class StaticTokenCredential:
    """A TokenCredential (azure-core's protocol) that issues one fixed JWT per scope."""

    def __init__(self, principal: str = "11111111-1111-1111-1111-111111111111") -> None:
        self.principal = principal
        self.scopes: list[str] = []

    def token_for(self, scope: str) -> str:
        audience = scope.removesuffix("/.default")
        return _jwt(
            {
                "aud": audience,
                "iss": f"https://sts.windows.net/{SUBSCRIPTION}/",
                "oid": self.principal,
                "tid": SUBSCRIPTION,
                "exp": 4102444800,
            }
        )

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.scopes.extend(scopes)
        return AccessToken(self.token_for(scopes[0]), 4102444800)


@dataclass
class Request:
    """One request as it reached the wire."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes

    def __post_init__(self) -> None:
        self.headers = CaseInsensitiveDict(self.headers)  # HTTP header names ignore case

    @property
    def host(self) -> str:
        return urlsplit(self.url).netloc

    @property
    def path(self) -> str:
        return urlsplit(self.url).path

    @property
    def query(self) -> dict[str, str]:
        return dict(parse_qsl(urlsplit(self.url).query))

    @property
    def api_version(self) -> str | None:
        return self.query.get("api-version")

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    @property
    def short(self) -> str:
        """``METHOD path`` with the workspace prefix removed (``PUT /environments/x/versions/1``)."""
        return f"{self.method} {self.path.replace(WS_ID, '') or '/'}"


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Request, re.Match[str]], Reply]


def arm_error(status: int, code: str, message: str) -> Reply:
    """The ARM error envelope (``ErrorResponse`` in common-types)."""
    return Reply(status, {"error": {"code": code, "message": message}})


def not_found(what: str) -> Reply:
    return arm_error(404, "UserError", f"{what} could not be found.")


# What azure-ai-ml itself sends outside the published schema, and the service accepts (so these
# are not ctloop's to fix): (schema, JSON path) -> why it is tolerated.
SDK_DEVIATIONS = {
    ("code_version", "$.properties.properties.hash_version"): (
        "azure-ai-ml writes the snapshot hash version as a number into a string map"
    ),
}


def _service_enum(validator: Any, enums: list[Any], instance: Any, schema: Any) -> Any:
    """``enum`` as the service reads it: string values compare without regard to case."""
    from jsonschema.exceptions import ValidationError

    folded = {e.lower() if isinstance(e, str) else e for e in enums}
    if (instance.lower() if isinstance(instance, str) else instance) not in folded:
        yield ValidationError(f"{instance!r} is not one of {enums!r}")


def _validator_class() -> Any:
    import jsonschema

    return jsonschema.validators.extend(jsonschema.Draft7Validator, {"enum": _service_enum})


def _ServiceValidator(schema: Any) -> Any:
    return _validator_class()(schema)


class SchemaCheck:
    """JSON Schemas of request bodies, one file per operation under tests/fixtures/azure_rest.

    Enums compare case-insensitively (the service's JSON reader does; azure-ai-ml itself sends
    ``dataCollectionMode: "enabled"`` for the published ``Enabled``).
    """

    def __init__(self, folder: Path = SCHEMAS) -> None:
        self.folder = folder
        self._cache: dict[str, Any] = {}

    def validator(self, name: str) -> Any:

        if name not in self._cache:
            schema = json.loads((self.folder / f"{name}.schema.json").read_text())
            self._cache[name] = _ServiceValidator(schema)
        return self._cache[name]

    def errors(self, name: str, body: Any) -> list[str]:
        """One line per violation: ``<json path>: <message>``; the Swagger-derived schema of the
        same body (``swagger/<name>.schema.json``, where there is one) is checked too."""
        lines = []
        for key, prefix in ((name, ""), (f"swagger/{name}", "swagger ")):
            if key != name and not (self.folder / f"{key}.schema.json").exists():
                continue
            found = sorted(self.validator(key).iter_errors(body), key=lambda e: list(e.absolute_path))
            lines += [
                f"{prefix}{e.json_path}: {e.message}"
                for e in found
                if (name, e.json_path) not in SDK_DEVIATIONS
            ]
        return lines

    def api_version(self, name: str) -> str:
        return str(json.loads((self.folder / f"{name}.schema.json").read_text())["x-api-version"])


class Workspace:
    """One Azure ML workspace's ARM routes, its storage account, and a record of what was asked."""

    def __init__(self, *, job_status: str = "Completed", child_jobs: list[dict[str, Any]] | None = None):
        self.requests: list[Request] = []
        self.waits: list[float] = []  # poll intervals the SDK asked the transport to wait
        self.unrouted: list[Request] = []
        self.violations: list[tuple[str, str]] = []
        self.job_status = job_status
        self.child_jobs = child_jobs or []
        self.assets: dict[tuple[str, str, str], dict[str, Any]] = {}  # (kind, name, version)
        self.containers: dict[tuple[str, str], dict[str, Any]] = {}  # (kind, name)
        self.jobs: dict[str, dict[str, Any]] = {}
        self.schedules: dict[str, dict[str, Any]] = {}
        self.endpoints: dict[str, dict[str, Any]] = {}
        self.deployments: dict[tuple[str, str], dict[str, Any]] = {}
        self.operations: dict[str, dict[str, Any]] = {}
        self.metrics: dict[str, dict[str, Any]] = {}  # Azure Monitor answers, by ``metricnames``
        self.blobs: dict[str, bytes] = {}
        self.blob_metadata: dict[str, dict[str, str]] = {}
        self.sas_issued: list[str] = []
        self.schemas = SchemaCheck()
        self.routes: list[tuple[str, str, re.Pattern[str], Handler]] = []
        self._routes()

    # --- routing -----------------------------------------------------------------------------
    def route(self, method: str, pattern: str, handler: Handler, host: str = "management.azure.com") -> None:
        """Answer ``method`` on paths matching ``pattern`` (relative to the workspace for ARM)."""
        prefix = re.escape(WS_ID) if host == "management.azure.com" and not pattern.startswith("^") else ""
        self.routes.append((method, host, re.compile(prefix + pattern.lstrip("^") + "$"), handler))

    def __call__(self, request: Request) -> Reply:
        self.requests.append(request)
        for method, host, pattern, handler in self.routes:
            if request.method == method and request.host == host:
                match = pattern.match(request.path)
                if match:
                    return handler(request, match)
        self.unrouted.append(request)
        return arm_error(501, "NoRoute", f"no route for {request.method} {request.url}")

    def transport(self) -> WireTransport:
        return WireTransport(self)

    def client(self, **kwargs: Any) -> Any:
        """The real MLClient for this workspace, over this workspace's transport."""
        from azure.ai.ml import MLClient

        return MLClient(
            kwargs.pop("credential", None) or StaticTokenCredential(),
            SUBSCRIPTION,
            RESOURCE_GROUP,
            WORKSPACE,
            transport=self.transport(),
            show_progress=False,
            **kwargs,
        )

    def route_storage(self, monkeypatch: Any) -> None:
        """Send azure-storage-blob's traffic here too.

        azure-ai-ml builds its ``BlobServiceClient`` itself, without a ``transport=``; the storage
        library then constructs azure-core's ``RequestsTransport``: that one name is replaced by
        this workspace's transport, so the storage client, its policies and its upload code run.
        """
        import azure.storage.blob._shared.base_client as blob_base

        monkeypatch.setattr(blob_base, "RequestsTransport", lambda **kwargs: WireTransport(self, **kwargs))

    def seed(self, kind: str, name: str, version: str, properties: dict[str, Any]) -> dict[str, Any]:
        """An asset version that exists before the test (registered by someone else)."""
        resource = self._resource(
            f"/{kind}/{name}/versions/{version}",
            version,
            f"{kind}/versions",
            {"provisioningState": "Succeeded", "tags": {}, "properties": {}, **properties},
        )
        if kind == "models":
            resource["properties"].setdefault("flavors", {})
        self.assets[(kind, name, version)] = resource
        return resource

    def seed_deployment(
        self, endpoint: str, name: str, model: str = "rainfall-classifier/versions/2"
    ) -> None:
        """A live managed deployment with data collection on (shaped like the published ``get`` example)."""
        self.endpoints.setdefault(
            endpoint,
            self._resource(
                f"/onlineEndpoints/{endpoint}",
                endpoint,
                "onlineEndpoints",
                {
                    "authMode": "Key",
                    "provisioningState": "Succeeded",
                    "traffic": {name: 100},
                    "scoringUri": f"https://{endpoint}.{REGION}.inference.ml.azure.com/score",
                },
                location=REGION,
                identity={"type": "SystemAssigned"},
            ),
        )
        collections = {
            c: {"dataCollectionMode": "Enabled", "dataId": f"{WS_ID}/data/{endpoint}-{name}-{c}/versions/1"}
            for c in ("model_inputs", "model_outputs")
        }
        for collection in collections:  # Azure ML registers each collection as a data asset
            self.seed(
                "data",
                f"{endpoint}-{name}-{collection}",
                "1",
                {
                    "dataType": "uri_folder",
                    "dataUri": f"azureml://datastores/workspaceblobstore/paths/modelDataCollector/{endpoint}/{name}/{collection}",
                },
            )
        self.deployments[(endpoint, name)] = self._resource(
            f"/onlineEndpoints/{endpoint}/deployments/{name}",
            name,
            "onlineEndpoints/deployments",
            {
                "endpointComputeType": "Managed",
                "model": f"{WS_ID}/models/{model}",
                "instanceType": "Standard_DS3_v2",
                "provisioningState": "Succeeded",
                "scaleSettings": {"scaleType": "Default"},
                "dataCollector": {"collections": collections},
            },
            location=REGION,
            sku={"name": "Default", "capacity": 1},
        )

    def httpx_client(self) -> Any:
        """An ``httpx.Client`` whose network is this workspace (httpx's own MockTransport)."""
        import httpx

        def handle(request: httpx.Request) -> httpx.Response:
            seen = Request(request.method, str(request.url), dict(request.headers), request.read())
            reply = self(seen)
            body = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
            return httpx.Response(reply.status, headers=reply.headers, content=body)

        return httpx.Client(transport=httpx.MockTransport(handle))

    def sent(self, method: str | None = None, contains: str = "") -> list[Request]:
        """Recorded requests, filtered by method and a substring of the path."""
        return [r for r in self.requests if (method is None or r.method == method) and contains in r.path]

    def writes(self) -> list[str]:
        """``METHOD path`` of every ARM write (PUT/POST/PATCH/DELETE), in order."""
        return [
            r.short
            for r in self.requests
            if r.method in ("PUT", "POST", "PATCH", "DELETE") and r.host == "management.azure.com"
        ]

    # --- helpers -----------------------------------------------------------------------------
    def _check(self, schema: str, request: Request) -> Reply | None:
        problems = self.schemas.errors(schema, request.json)
        if problems:
            for p in problems:
                self.violations.append((schema, p))
            return arm_error(400, "UserError", f"Request body is invalid: {problems[0]}")
        return None

    @staticmethod
    def _system_data() -> dict[str, str]:
        return {
            "createdAt": "2026-01-01T00:00:00.000Z",
            "createdBy": "ci-principal",
            "createdByType": "Application",
            "lastModifiedAt": "2026-01-01T00:00:00.000Z",
            "lastModifiedBy": "ci-principal",
            "lastModifiedByType": "Application",
        }

    def _resource(self, path: str, name: str, rtype: str, properties: dict[str, Any], **extra: Any) -> dict:
        return {
            "id": WS_ID + path,
            "name": name,
            "type": f"Microsoft.MachineLearningServices/workspaces/{rtype}",
            "systemData": self._system_data(),
            "properties": properties,
            **extra,
        }

    def _async(self, status: int, body: Any, final: Callable[[], None] | None = None) -> Reply:
        """An asynchronous answer: the SDK polls ``Azure-AsyncOperation`` until it says Succeeded."""
        op = uuid.uuid4().hex
        self.operations[op] = {"polls": 0, "final": final}
        url = f"{ARM}{OPERATIONS}/mfeOperationsStatus/{op}?api-version=2023-04-01-preview"
        headers = {"Azure-AsyncOperation": url, "Retry-After": "0"}
        if status == 202:
            headers["Location"] = url.replace("mfeOperationsStatus", "mfeOperationResults")
        return Reply(status, body, headers)

    def _operation(self, request: Request, m: re.Match[str]) -> Reply:
        op = self.operations.get(m["op"])
        if op is None:
            return not_found(f"operation {m['op']}")
        op["polls"] += 1
        if op["polls"] == 1:  # one "InProgress" answer, so the poller really polls
            return Reply(200, {"status": "InProgress"}, {"Retry-After": "0"})
        if op["final"] is not None:
            op["final"]()
            op["final"] = None
        return Reply(200, {"status": "Succeeded", "startTime": "2026-01-01T00:00:00Z"})

    def _operation_result(self, request: Request, m: re.Match[str]) -> Reply:
        return Reply(200, None)

    # --- versioned assets (environments, components, code, models, data) ---------------------
    ASSET_SCHEMAS: ClassVar[dict[str, str]] = {
        "environments": "environment_version",
        "components": "component_version",
        "models": "model_version",
        "data": "data_version",
        "codes": "code_version",
    }

    def _get_asset(self, request: Request, m: re.Match[str]) -> Reply:
        found = self.assets.get((m["kind"], m["name"], m["version"]))
        return Reply(200, found) if found else not_found(f"{m['kind']} {m['name']}:{m['version']}")

    def _put_asset(self, request: Request, m: re.Match[str]) -> Reply:
        kind, name, version = m["kind"], m["name"], m["version"]
        refused = self._check(self.ASSET_SCHEMAS[kind], request)
        if refused:
            return refused
        existing = self.assets.get((kind, name, version))
        if existing is not None and kind != "codes":
            return arm_error(
                409, "UserError", f"{kind} {name}:{version} already exists; versions are immutable"
            )
        body = request.json
        props = {**body["properties"], "provisioningState": "Succeeded"}
        if kind == "environments" and "image" in props:
            props.setdefault("environmentType", "UserCreated")
        if kind == "models":
            props.setdefault("flavors", {})  # the service answers with the (possibly empty) map
        resource = self._resource(f"/{kind}/{name}/versions/{version}", version, f"{kind}/versions", props)
        self.assets[(kind, name, version)] = resource
        self.containers[(kind, name)] = self._resource(
            f"/{kind}/{name}", name, kind, {"latestVersion": version, "nextVersion": None}
        )
        return Reply(200 if existing else 201, resource)

    def _get_container(self, request: Request, m: re.Match[str]) -> Reply:
        found = self.containers.get((m["kind"], m["name"]))
        return Reply(200, found) if found else not_found(f"{m['kind']} {m['name']}")

    def _list_versions(self, request: Request, m: re.Match[str]) -> Reply:
        digest = request.query.get("hash")
        if m["kind"] == "codes" and digest:
            # a code snapshot is looked up by content hash: the same folder is uploaded once
            found = [
                v
                for (k, _, _), v in self.assets.items()
                if k == "codes" and (v["properties"].get("properties") or {}).get("hash_sha256") == digest
            ]
        else:
            found = [v for (k, n, _), v in self.assets.items() if k == m["kind"] and n == m["name"]]
        return Reply(200, {"value": found})

    def _start_pending_upload(self, request: Request, m: re.Match[str]) -> Reply:
        """A code/data snapshot upload: the service hands out a short-lived SAS for one blob prefix.

        Shaped like the ``CodeVersion_CreateOrGetStartPendingUpload`` example; the SAS is the
        service's (a user-delegation SAS when shared keys are off), never an account key.
        """
        body = request.json or {}
        if body.get("pendingUploadType", "TemporaryBlobReference") != "TemporaryBlobReference":
            return arm_error(400, "UserError", "pendingUploadType must be TemporaryBlobReference")
        upload_id = body.get("pendingUploadId") or uuid.uuid4().hex
        blob_uri = f"https://{BLOB_HOST}/{CONTAINER}/LocalUpload/{upload_id}"
        self.sas_issued.append(blob_uri)
        return Reply(
            200,
            {
                "blobReferenceForConsumption": {
                    "blobUri": blob_uri,
                    "storageAccountArmId": STORAGE_ID,
                    "credential": {"credentialType": "SAS", "sasUri": f"{blob_uri}?{SAS_QUERY}"},
                },
                "pendingUploadId": upload_id,
                "pendingUploadType": "TemporaryBlobReference",
            },
        )

    # --- datastores, workspace ---------------------------------------------------------------
    def _datastore(self) -> dict[str, Any]:
        return self._resource(
            "/datastores/workspaceblobstore",
            "workspaceblobstore",
            "datastores",
            {
                "datastoreType": "AzureBlob",
                "accountName": STORAGE_ACCOUNT,
                "containerName": CONTAINER,
                "endpoint": "core.windows.net",
                "protocol": "https",
                "isDefault": True,
                "serviceDataAccessAuthIdentity": "WorkspaceSystemAssignedIdentity",
                "credentials": {"credentialsType": "None"},
                "description": "",
                "properties": {},
                "tags": {},
            },
        )

    def _list_datastores(self, request: Request, m: re.Match[str]) -> Reply:
        return Reply(200, {"value": [self._datastore()]})

    def _get_datastore(self, request: Request, m: re.Match[str]) -> Reply:
        if m["name"] != "workspaceblobstore":
            return not_found(f"datastore {m['name']}")
        return Reply(200, self._datastore())

    def _secrets(self, request: Request, m: re.Match[str]) -> Reply:
        # Identity-based datastores have no secrets: the service refuses, as with shared keys off.
        return arm_error(403, "AuthorizationFailed", "key-based access is disabled for this datastore")

    def _workspace(self, request: Request, m: re.Match[str]) -> Reply:
        return Reply(
            200,
            {
                "id": WS_ID,
                "name": WORKSPACE,
                "type": "Microsoft.MachineLearningServices/workspaces",
                "location": REGION,
                "kind": "Default",
                "identity": {"type": "SystemAssigned", "principalId": SUBSCRIPTION, "tenantId": SUBSCRIPTION},
                "systemData": self._system_data(),
                "properties": {
                    "friendlyName": WORKSPACE,
                    "storageAccount": STORAGE_ID,
                    "discoveryUrl": f"https://{REGION}.api.azureml.ms/discovery",
                    "mlFlowTrackingUri": f"azureml://{REGION}.api.azureml.ms/mlflow/v1.0{WS_ID}",
                    "workspaceId": "0f0e0d0c-0000-0000-0000-000000000001",
                    "provisioningState": "Succeeded",
                    "publicNetworkAccess": "Enabled",
                },
            },
        )

    # --- jobs --------------------------------------------------------------------------------
    def _studio(self, name: str) -> dict[str, Any]:
        return {
            "Studio": {
                "endpoint": f"https://ml.azure.com/runs/{name}?wsid={WS_ID}",
                "jobServiceType": "Studio",
            }
        }

    def _put_job(self, request: Request, m: re.Match[str]) -> Reply:
        refused = self._check("pipeline_job", request)
        if refused:
            return refused
        name = m["name"]
        props = {**request.json["properties"], "status": "NotStarted", "services": self._studio(name)}
        self.jobs[name] = self._resource(f"/jobs/{name}", name, "jobs", props)
        return Reply(201, self.jobs[name])

    def _get_job(self, request: Request, m: re.Match[str]) -> Reply:
        job = self.jobs.get(m["name"])
        if job is None:
            child = next((c for c in self.child_jobs if c["name"] == m["name"]), None)
            return Reply(200, self._child(child)) if child else not_found(f"job {m['name']}")
        job = copy.deepcopy(job)
        job["properties"]["status"] = self.job_status
        return Reply(200, job)

    def _child(self, spec: dict[str, Any]) -> dict[str, Any]:
        props = {
            "jobType": "Command",
            "status": spec["status"],
            "displayName": spec.get("display_name"),
            "command": "python -m ctloop.steps.x",
            "environmentId": "azureml:ctloop-train:1",
            "parentJobName": spec.get("parent"),
            "services": self._studio(spec["name"]),
        }
        return self._resource(f"/jobs/{spec['name']}", spec["name"], "jobs", props)

    def _list_jobs(self, request: Request, m: re.Match[str]) -> Reply:
        parent = request.query.get("parentJobName")
        found = [self._child(c) for c in self.child_jobs if parent is None or c.get("parent") == parent]
        return Reply(200, {"value": found})

    # --- run history (the workspace's data plane: job logs and child runs) --------------------
    def _discovery(self, request: Request, m: re.Match[str]) -> Reply:
        base = f"https://{API_HOST}"
        keys = ("api", "catalog", "experimentation", "gallery", "history", "hyperdrive", "labeling")
        return Reply(
            200,
            {
                **{k: base for k in keys},
                "modelmanagement": base,
                "pipelines": base,
                "studio": "https://ml.azure.com",
            },
        )

    def _run(self, name: str, status: str, parent: str | None = None, display: str | None = None) -> dict:
        return {
            "runId": name,
            "parentRunId": parent,
            "rootRunId": parent or name,
            "status": status,
            "displayName": display or name,
            "name": display or name,
            "runType": "azureml.StepRun" if parent else "azureml.PipelineRun",
            "experimentId": "0f0e0d0c-0000-0000-0000-000000000002",
            "createdUtc": "2026-01-01T00:00:00.000Z",
            "startTimeUtc": "2026-01-01T00:00:01.000Z",
            "endTimeUtc": "2026-01-01T00:10:00.000Z",
            "properties": {},
            "tags": {},
        }

    def _run_details(self, request: Request, m: re.Match[str]) -> Reply:
        if m["run"] not in self.jobs:
            return not_found(f"run {m['run']}")
        return Reply(
            200,
            {
                "runId": m["run"],
                "status": self.job_status,
                "target": "cpu-cluster",
                "startTimeUtc": "2026-01-01T00:00:01.000Z",
                "endTimeUtc": "2026-01-01T00:10:00.000Z",
                "logFiles": {},
                "warnings": [],
                "properties": {},
                "services": {},
            },
        )

    def _run_children(self, request: Request, m: re.Match[str]) -> Reply:
        found = [
            self._run(c["name"], c["status"], c.get("parent"), c.get("display_name"))
            for c in self.child_jobs
            if c.get("parent") in (None, m["run"])
        ]
        return Reply(200, {"value": found, "nextLink": None})

    # --- schedules ---------------------------------------------------------------------------
    def _put_schedule(self, request: Request, m: re.Match[str]) -> Reply:
        refused = self._check("schedule", request)
        if refused:
            return refused
        name = m["name"]
        props = {**request.json["properties"], "provisioningState": "Creating", "isEnabled": True}
        resource = self._resource(f"/schedules/{name}", name, "schedules", props)

        def done() -> None:
            resource["properties"]["provisioningState"] = "Succeeded"

        self.schedules[name] = resource
        return self._async(201, resource, done)

    def _get_schedule(self, request: Request, m: re.Match[str]) -> Reply:
        found = self.schedules.get(m["name"])
        return Reply(200, found) if found else not_found(f"schedule {m['name']}")

    # --- online endpoints and deployments ----------------------------------------------------
    def _put_endpoint(self, request: Request, m: re.Match[str]) -> Reply:
        refused = self._check("online_endpoint", request)
        if refused:
            return refused
        name = m["name"]
        body = request.json
        existing = self.endpoints.get(name)
        props = {
            **body["properties"],
            "provisioningState": "Updating" if existing else "Creating",
            "scoringUri": f"https://{name}.{REGION}.inference.ml.azure.com/score",
            "swaggerUri": f"https://{name}.{REGION}.inference.ml.azure.com/swagger.json",
        }
        unknown = set(props.get("traffic") or {}) - {d for e, d in self.deployments if e == name}
        if unknown:
            return arm_error(
                400, "BadArgument", f"traffic names deployments that do not exist: {sorted(unknown)}"
            )
        resource = self._resource(
            f"/onlineEndpoints/{name}",
            name,
            "onlineEndpoints",
            props,
            location=body.get("location", REGION),
            identity=body.get("identity") or {"type": "SystemAssigned"},
            kind=body.get("kind"),
            tags=body.get("tags") or {},
        )

        def done() -> None:
            resource["properties"]["provisioningState"] = "Succeeded"

        self.endpoints[name] = resource
        return self._async(200 if existing else 201, resource, done)

    def _get_endpoint(self, request: Request, m: re.Match[str]) -> Reply:
        found = self.endpoints.get(m["name"])
        return Reply(200, found) if found else not_found(f"online endpoint {m['name']}")

    def _list_endpoints(self, request: Request, m: re.Match[str]) -> Reply:
        return Reply(200, {"value": list(self.endpoints.values())})

    def _monitor_metrics(self, request: Request, m: re.Match[str]) -> Reply:
        """Azure Monitor ``Metrics_List`` on an endpoint: the answer set for these metric names."""
        if not request.headers.get("Authorization", "").startswith("Bearer "):
            return arm_error(401, "AuthenticationFailed", "no bearer token")
        if m["name"] not in self.endpoints:
            return not_found(f"online endpoint {m['name']}")
        names = request.query.get("metricnames", "")
        answer = self.metrics.get(names)
        if answer is None:
            return arm_error(400, "BadRequest", f"Failed to find metric configuration for {names}")
        return Reply(
            200, {"cost": 0, "timespan": request.query.get("timespan"), "interval": "PT1M", **answer}
        )

    def _keys(self, request: Request, m: re.Match[str]) -> Reply:
        if m["name"] not in self.endpoints:
            return not_found(f"online endpoint {m['name']}")
        return Reply(200, {"primaryKey": "primary-key", "secondaryKey": "secondary-key"})

    def _put_deployment(self, request: Request, m: re.Match[str]) -> Reply:
        if m["endpoint"] not in self.endpoints:
            return not_found(f"online endpoint {m['endpoint']}")
        refused = self._check("online_deployment", request)
        if refused:
            return refused
        key = (m["endpoint"], m["name"])
        body = request.json
        existing = self.deployments.get(key)
        props = {**body["properties"], "provisioningState": "Updating" if existing else "Creating"}
        props.setdefault("scaleSettings", {"scaleType": "Default"})  # what the service fills in
        resource = self._resource(
            f"/onlineEndpoints/{key[0]}/deployments/{key[1]}",
            key[1],
            "onlineEndpoints/deployments",
            props,
            location=body.get("location", REGION),
            sku=body.get("sku"),
            kind=body.get("kind"),
            tags=body.get("tags") or {},
        )

        def done() -> None:
            resource["properties"]["provisioningState"] = "Succeeded"

        self.deployments[key] = resource
        return self._async(200 if existing else 201, resource, done)

    def _get_deployment(self, request: Request, m: re.Match[str]) -> Reply:
        found = self.deployments.get((m["endpoint"], m["name"]))
        return Reply(200, found) if found else not_found(f"deployment {m['name']}")

    def _list_deployments(self, request: Request, m: re.Match[str]) -> Reply:
        found = [d for (e, _), d in self.deployments.items() if e == m["endpoint"]]
        return Reply(200, {"value": found})

    def _delete_deployment(self, request: Request, m: re.Match[str]) -> Reply:
        key = (m["endpoint"], m["name"])
        if key not in self.deployments:
            return Reply(204)
        endpoint = self.endpoints.get(key[0], {})
        if (endpoint.get("properties", {}).get("traffic") or {}).get(key[1]):
            return arm_error(400, "BadArgument", f"deployment {key[1]} takes traffic: move it first")
        return self._async(202, None, lambda: self.deployments.pop(key, None))

    # --- storage (blob service) --------------------------------------------------------------
    @staticmethod
    def _blob_auth(request: Request) -> str | None:
        """How a storage request authenticates: "bearer", "sas", or None (refused: keys are off)."""
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            return "bearer"
        if not auth and "sig" in request.query:
            return "sas"
        return None

    def _blob_put(self, request: Request, m: re.Match[str]) -> Reply:
        if self._blob_auth(request) is None:
            return Reply(403, b"", {"x-ms-error-code": "KeyBasedAuthenticationNotPermitted"})
        blob = m["blob"]
        if request.query.get("comp") == "metadata":
            meta = {k[10:]: v for k, v in request.headers.items() if k.lower().startswith("x-ms-meta-")}
            self.blob_metadata[blob] = meta
            return Reply(200, b"", {"ETag": '"0x2"'})
        self.blobs[blob] = request.body
        meta = {k[10:]: v for k, v in request.headers.items() if k.lower().startswith("x-ms-meta-")}
        if meta:
            self.blob_metadata[blob] = meta
        return Reply(201, b"", {"ETag": '"0x1"', "x-ms-request-server-encrypted": "true"})

    def _blob_head(self, request: Request, m: re.Match[str]) -> Reply:
        if self._blob_auth(request) is None:
            return Reply(403, b"", {"x-ms-error-code": "KeyBasedAuthenticationNotPermitted"})
        if m["blob"] not in self.blobs:
            return Reply(404, b"", {"x-ms-error-code": "BlobNotFound"})
        return Reply(
            200, b"", {"Content-Length": str(len(self.blobs[m["blob"]])), "x-ms-blob-type": "BlockBlob"}
        )

    def _blob_list(self, request: Request, m: re.Match[str]) -> Reply:
        if self._blob_auth(request) is None:
            return Reply(403, b"", {"x-ms-error-code": "KeyBasedAuthenticationNotPermitted"})
        prefix = request.query.get("prefix", "")
        names = [b for b in self.blobs if b.startswith(prefix)]
        xml = "".join(
            f"<Blob><Name>{n}</Name><Properties><Content-Length>{len(self.blobs[n])}</Content-Length>"
            "<BlobType>BlockBlob</BlobType></Properties><Metadata /></Blob>"
            for n in names
        )
        body = (
            '<?xml version="1.0" encoding="utf-8"?>'
            f'<EnumerationResults ServiceEndpoint="https://{BLOB_HOST}/" ContainerName="{m["container"]}">'
            f"<Prefix>{prefix}</Prefix><Blobs>{xml}</Blobs><NextMarker /></EnumerationResults>"
        ).encode()
        return Reply(200, body, {"Content-Type": "application/xml"})

    def _routes(self) -> None:
        name = r"(?P<name>[^/]+)"
        version = r"(?P<version>[^/]+)"
        kind = r"(?P<kind>environments|components|models|data|codes)"
        r = self.route
        r("GET", "", self._workspace)
        r("GET", f"/{kind}/{name}/versions/{version}", self._get_asset)
        r("PUT", f"/{kind}/{name}/versions/{version}", self._put_asset)
        r("GET", f"/{kind}/{name}/versions", self._list_versions)
        r("GET", f"/{kind}/{name}", self._get_container)
        r("POST", f"/{kind}/{name}/versions/{version}/startPendingUpload", self._start_pending_upload)
        r("GET", "/datastores", self._list_datastores)
        r("GET", f"/datastores/{name}", self._get_datastore)
        r("POST", f"/datastores/{name}/listSecrets", self._secrets)
        r("PUT", f"/jobs/{name}", self._put_job)
        r("GET", f"/jobs/{name}", self._get_job)
        r("GET", "/jobs", self._list_jobs)
        r("PUT", f"/schedules/{name}", self._put_schedule)
        r("GET", f"/schedules/{name}", self._get_schedule)
        r("GET", "/onlineEndpoints", self._list_endpoints)
        r("PUT", f"/onlineEndpoints/{name}", self._put_endpoint)
        r("GET", f"/onlineEndpoints/{name}", self._get_endpoint)
        r("POST", f"/onlineEndpoints/{name}/listKeys", self._keys)
        r("GET", f"/onlineEndpoints/{name}/providers/Microsoft.Insights/metrics", self._monitor_metrics)
        dep = r"/onlineEndpoints/(?P<endpoint>[^/]+)/deployments"
        r("GET", dep, self._list_deployments)
        r("PUT", f"{dep}/{name}", self._put_deployment)
        r("GET", f"{dep}/{name}", self._get_deployment)
        r("DELETE", f"{dep}/{name}", self._delete_deployment)
        ops = f"^{OPERATIONS}"
        r("GET", ops + r"/mfeOperationsStatus/(?P<op>[^/]+)", self._operation)
        r("GET", ops + r"/mfeOperationResults/(?P<op>[^/]+)", self._operation_result)
        r("GET", "^/discovery", self._discovery, host=API_HOST)
        runs = f"^/history/v1.0{re.escape(WS_ID)}/runs/(?P<run>[^/]+)"
        r("GET", runs + "/details", self._run_details, host=API_HOST)
        r("GET", runs + "/children", self._run_children, host=API_HOST)
        blob = r"^/(?P<container>[^/]+)/(?P<blob>.+)"
        r("PUT", blob, self._blob_put, host=BLOB_HOST)
        r("HEAD", blob, self._blob_head, host=BLOB_HOST)
        r("GET", r"^/(?P<container>[^/]+)", self._blob_list, host=BLOB_HOST)


class WireAdapter(HTTPAdapter):
    """A requests adapter whose network is a :class:`Workspace`."""

    def __init__(self, service: Callable[[Request], Reply]) -> None:
        super().__init__()
        self.service = service

    def send(self, request: PreparedRequest, stream: bool = False, **kwargs: Any) -> Response:
        body = request.body or b""
        if hasattr(body, "read"):
            body = body.read()
        elif not isinstance(body, bytes | bytearray):
            body = b"".join(body) if not isinstance(body, str) else body.encode()
        seen = Request(str(request.method), str(request.url), dict(request.headers), bytes(body))
        reply = self.service(seen)
        payload = reply.body
        headers = dict(reply.headers)
        if payload is None:
            data = b""
        elif isinstance(payload, bytes):
            data = payload
        else:
            data = json.dumps(payload).encode()
            headers.setdefault("Content-Type", "application/json; charset=utf-8")
        headers.setdefault("x-ms-request-id", uuid.uuid4().hex)
        headers["Content-Length"] = str(len(data))
        raw = urllib3.HTTPResponse(
            body=io.BytesIO(data),
            headers=headers,
            status=reply.status,
            preload_content=False,
            decode_content=False,
            request_method=request.method,
        )
        return self.build_response(request, raw)


class WireTransport(RequestsTransport):
    """azure-core's RequestsTransport whose sessions send through a :class:`WireAdapter`."""

    def __init__(self, service: Callable[[Request], Reply], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.service = service

    def sleep(self, duration: float) -> None:
        """Pollers and retries wait through the transport: recorded, never slept."""
        waits = getattr(self.service, "waits", None)
        if isinstance(waits, list):
            waits.append(duration)

    def _init_session(self, session: Session) -> None:
        session.trust_env = False  # no proxies, no netrc: nothing leaves the process
        adapter = WireAdapter(self.service)
        for protocol in self._protocols:
            session.mount(protocol, adapter)
