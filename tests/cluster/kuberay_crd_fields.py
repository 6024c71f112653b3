"""The KubeRay fields our manifests may use, written from the CRDs of KubeRay v1.6.2 (the version docs/DEPLOY.md
installs): helm-chart/kuberay-operator/crds/ray.io_{rayclusters,rayjobs,raycronjobs}.yaml, served version v1.

One line per field: `path type [enum values|...]`, relative to the kind's `spec`. `[]` is a list item, `map`
a string-to-string map, `pod` a core/v1 PodTemplateSpec (checked by kubernetes-validate instead). Objects
we never use (head Service overrides, the autoscaler sidecar's container fields, GCS fault tolerance,
upgrade strategy) are left out on purpose: a manifest that starts using them fails the test until their
fields are copied here from the same CRDs.
"""

RAY_CLUSTER_SPEC = """
authOptions object
authOptions.enableK8sTokenAuth boolean
authOptions.mode string disabled|token
authOptions.secretName string
autoscalerOptions object
autoscalerOptions.idleTimeoutSeconds integer
autoscalerOptions.image string
autoscalerOptions.imagePullPolicy string
autoscalerOptions.upscalingMode string Default|Aggressive|Conservative
autoscalerOptions.version string v1|v2
enableInTreeAutoscaling boolean
headGroupSpec object
headGroupSpec.enableIngress boolean
headGroupSpec.labels map
headGroupSpec.rayStartParams map
headGroupSpec.resources map
headGroupSpec.serviceType string
headGroupSpec.template pod
headServiceAnnotations map
managedBy string
rayVersion string
suspend boolean
workerGroupSpecs array
workerGroupSpecs[] object
workerGroupSpecs[].groupName string
workerGroupSpecs[].idleTimeoutSeconds integer
workerGroupSpecs[].labels map
workerGroupSpecs[].maxReplicas integer
workerGroupSpecs[].minReplicas integer
workerGroupSpecs[].numOfHosts integer
workerGroupSpecs[].rayStartParams map
workerGroupSpecs[].replicas integer
workerGroupSpecs[].resources map
workerGroupSpecs[].scaleStrategy object
workerGroupSpecs[].scaleStrategy.workersToDelete array
workerGroupSpecs[].scaleStrategy.workersToDelete[] string
workerGroupSpecs[].suspend boolean
workerGroupSpecs[].template pod
"""

RAY_CLUSTER_REQUIRED = {"": {"headGroupSpec"}, "headGroupSpec": {"template"},
                        "workerGroupSpecs[]": {"groupName", "maxReplicas", "minReplicas", "template"}}

RAY_JOB_SPEC = """
activeDeadlineSeconds integer
backoffLimit integer
clusterSelector map
deletionStrategy object
deletionStrategy.deletionRules array
deletionStrategy.deletionRules[] object
deletionStrategy.deletionRules[].condition object
deletionStrategy.deletionRules[].condition.jobDeploymentStatus string Failed
deletionStrategy.deletionRules[].condition.jobStatus string SUCCEEDED|FAILED
deletionStrategy.deletionRules[].condition.ttlSeconds integer
deletionStrategy.deletionRules[].policy string DeleteCluster|DeleteWorkers|DeleteSelf|DeleteNone
entrypoint string
entrypointNumCpus number
entrypointNumGpus number
entrypointResources string
jobId string
managedBy string
metadata map
preRunningDeadlineSeconds integer
rayClusterSpec object
runtimeEnvYAML string
shutdownAfterJobFinishes boolean
submissionMode string
submitterConfig object
submitterConfig.backoffLimit integer
submitterPodTemplate pod
suspend boolean
ttlSecondsAfterFinished integer
"""

RAY_JOB_REQUIRED = {"deletionStrategy.deletionRules[]": {"condition", "policy"}}

RAY_CRON_JOB_SPEC = """
jobTemplate object
schedule string
suspend boolean
"""

RAY_CRON_JOB_REQUIRED = {"": {"jobTemplate", "schedule"}}


def parse(table: str) -> dict[str, tuple[str, frozenset[str] | None]]:
    """'path type [a|b]' lines -> {path: (type, enum or None)}."""
    out = {}
    for line in table.strip().splitlines():
        path, typ, *enum = line.split()
        out[path] = (typ, frozenset(enum[0].split("|")) if enum else None)
    return out


def _problems(value, path: str, fields: dict, required: dict, prefix: str = "") -> list[str]:
    """Every field of `value` (a KubeRay spec) not in the CRD field list, of the wrong type or outside its enum."""
    types = {"string": str, "integer": int, "number": (int, float), "boolean": bool}
    out = [f"{path}: missing required {k!r}" for k in required.get(prefix, ()) if k not in value]
    for key, v in value.items():
        rel = f"{prefix}.{key}" if prefix else key
        where = f"{path}.{key}"
        if rel not in fields:
            out.append(f"{where}: not a field of the CRD")
            continue
        typ, enum = fields[rel]
        if typ == "pod":
            continue                                            # validated by kubernetes-validate
        if rel in ("rayClusterSpec", "jobTemplate"):            # nested kinds: RayJob's cluster, RayCronJob's job
            sub = (parse(RAY_CLUSTER_SPEC), RAY_CLUSTER_REQUIRED) if rel == "rayClusterSpec" else \
                  (parse(RAY_JOB_SPEC), RAY_JOB_REQUIRED)
            out += _problems(v, where, *sub)
        elif typ == "object":
            out += _problems(v, where, fields, required, rel) if isinstance(v, dict) else [f"{where}: not an object"]
        elif typ == "map":
            if not isinstance(v, dict) or not all(isinstance(x, str) for x in v.values()):
                out.append(f"{where}: must map names to strings, got {v!r}")
        elif typ == "array":
            if not isinstance(v, list):
                out.append(f"{where}: not a list")
                continue
            for i, item in enumerate(v):
                item_typ = fields[f"{rel}[]"][0]
                if item_typ == "object":
                    out += _problems(item, f"{where}[{i}]", fields, required, f"{rel}[]")
                elif not isinstance(item, types[item_typ]):
                    out.append(f"{where}[{i}]: not a {item_typ}")
        elif isinstance(v, bool) and typ != "boolean" or not isinstance(v, types[typ]):
            out.append(f"{where}: {typ} expected, got {v!r}")
        elif enum is not None and v not in enum:
            out.append(f"{where}: {v!r} not one of {sorted(enum)}")
    return out


def check(doc: dict) -> list[str]:
    """Problems of one RayCluster / RayJob / RayCronJob document against the field lists above (empty: none)."""
    table = {"RayCluster": (RAY_CLUSTER_SPEC, RAY_CLUSTER_REQUIRED), "RayJob": (RAY_JOB_SPEC, RAY_JOB_REQUIRED),
             "RayCronJob": (RAY_CRON_JOB_SPEC, RAY_CRON_JOB_REQUIRED)}[doc["kind"]]
    problems = [] if doc["apiVersion"] == "ray.io/v1" else [f"{doc['kind']}: apiVersion {doc['apiVersion']} is not ray.io/v1"]
    problems += [f"metadata.{k}: not allowed at the top of metadata" for k in doc["metadata"]
                 if k not in ("name", "namespace", "labels", "annotations")]
    return problems + _problems(doc["spec"], f"{doc['kind']}.spec", parse(table[0]), table[1])
