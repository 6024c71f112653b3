"""cluster/ manifests: every YAML parses, has the fields its kind needs, valid 5-field cron schedules,
GPU resources on workers, and every command and repo path it references exists (jobs, configs, make targets,
CLI flags accepted by the job's own parser). And against the real schemas, with no cluster: Kubernetes kinds and
every pod template through kubernetes-validate (strict), KubeRay kinds against the KubeRay v1.6.2 CRD field
list in tests/cluster/kuberay_crd_fields.py, the launcher through Ray's own validate_config."""
import re
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.cluster.kuberay_crd_fields import check as crd_check

ROOT = Path(__file__).resolve().parents[2]
CLUSTER = ROOT / "cluster"
MANIFESTS = sorted(p for p in CLUSTER.rglob("*.yaml"))
CRON_RANGES = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]   # minute hour day-of-month month day-of-week


def cron_valid(expr: str) -> bool:
    """Standard 5-field cron: each field '*', 'a', 'a-b', any of those '/step', comma lists; numbers in range."""
    fields = expr.split()
    if len(fields) != 5:
        return False
    for field, (lo, hi) in zip(fields, CRON_RANGES):
        for part in field.split(","):
            m = re.fullmatch(r"(\*|\d+(?:-\d+)?)(?:/(\d+))?", part)
            if not m:
                return False
            if m.group(2) is not None and int(m.group(2)) == 0:
                return False
            if m.group(1) != "*":
                nums = [int(x) for x in m.group(1).split("-")]
                if any(not lo <= n <= hi for n in nums) or nums != sorted(nums):
                    return False
    return True


def test_cron_validator_itself():
    for ok in ("0 3 * * *", "*/15 * * * *", "0 0-6/2 1,15 * 1-5", "59 23 31 12 7"):
        assert cron_valid(ok), ok
    for bad in ("0 3 * *", "60 3 * * *", "0 24 * * *", "0 3 0 * *", "0 3 * 13 *", "0 3 * * 8", "*/0 * * * *",
                "5-1 * * * *", "@daily", "0 3 * * * *"):
        assert not cron_valid(bad), bad


def _docs(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


def test_every_manifest_parses():
    assert {p.relative_to(CLUSTER).as_posix() for p in MANIFESTS} >= {
        "launcher.yaml", "kuberay/raycluster.yaml", "kuberay/rayjob-sweep.yaml",
        "kuberay/raycronjob-nightly.yaml", "k8s/cronjob-nightly.yaml"}
    for p in MANIFESTS:
        assert _docs(p), p


def _k8s_docs():
    return [(p, d) for p in MANIFESTS if p.name != "launcher.yaml" for d in _docs(p)]


def test_k8s_objects_have_required_fields():
    for p, d in _k8s_docs():
        for key in ("apiVersion", "kind", "metadata", "spec"):
            assert key in d, f"{p}: missing {key}"
        assert d["metadata"].get("name"), p


def _check_ray_cluster_spec(spec: dict, where: str):
    assert spec["rayVersion"], where
    head = spec["headGroupSpec"]
    assert "rayStartParams" in head and head["template"]["spec"]["containers"], where
    head_c = head["template"]["spec"]["containers"][0]
    assert 8265 in [p["containerPort"] for p in head_c["ports"]], f"{where}: head must expose the dashboard/jobs port"
    workers = spec["workerGroupSpecs"]
    assert workers, where
    for w in workers:
        assert w["groupName"] and w["minReplicas"] <= w["replicas"] <= w["maxReplicas"], where
        c = w["template"]["spec"]["containers"][0]
        assert c["resources"]["limits"]["nvidia.com/gpu"] == 1, f"{where}: one GPU per worker"
        assert c["image"] == head_c["image"], f"{where}: head and workers must run the same image"


def _by_kind(kind):
    return [(p, d) for p, d in _k8s_docs() if d["kind"] == kind]


def test_kuberay_fields():
    (p, rc), = _by_kind("RayCluster")
    assert rc["apiVersion"] == "ray.io/v1"
    _check_ray_cluster_spec(rc["spec"], str(p))
    (p, rj), = _by_kind("RayJob")
    assert rj["apiVersion"] == "ray.io/v1"
    assert rj["spec"]["entrypoint"].startswith("python jobs/sweep.py --config ")
    _check_ray_cluster_spec(rj["spec"]["rayClusterSpec"], str(p))
    (p, cron), = _by_kind("RayCronJob")
    assert cron["apiVersion"] == "ray.io/v1"
    assert cron_valid(cron["spec"]["schedule"])
    tmpl = cron["spec"]["jobTemplate"]              # KubeRay RayCronJobSpec: schedule + jobTemplate (a RayJobSpec)
    assert tmpl["entrypoint"].startswith("python jobs/nightly.py ")
    _check_ray_cluster_spec(tmpl["rayClusterSpec"], str(p))


def test_k8s_cronjob_fallback_submits_to_the_standing_cluster():
    (p, cj), = _by_kind("CronJob")
    assert cj["apiVersion"] == "batch/v1" and cron_valid(cj["spec"]["schedule"])
    pod = cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["restartPolicy"] in ("Never", "OnFailure")
    cmd = pod["containers"][0]["command"]
    assert cmd[:3] == ["ray", "job", "submit"]
    address = cmd[cmd.index("--address") + 1]
    (_, rc), = _by_kind("RayCluster")
    assert address == f"http://{rc['metadata']['name']}-head-svc:8265"     # KubeRay's head Service name
    assert cmd[cmd.index("--working-dir") + 1] == "."
    assert cmd[cmd.index("--") + 1:][:2] == ["python", "jobs/nightly.py"]


def test_launcher_has_head_and_gpu_workers():
    (cfg,) = _docs(CLUSTER / "launcher.yaml")
    for key in ("cluster_name", "provider", "available_node_types", "head_node_type", "setup_commands",
                "head_start_ray_commands", "worker_start_ray_commands"):
        assert key in cfg, key
    types = cfg["available_node_types"]
    assert cfg["head_node_type"] in types
    gpu = [t for t in types.values() if t.get("resources", {}).get("GPU", 0) >= 1]
    assert gpu and all(t["max_workers"] >= t["min_workers"] for t in gpu)
    assert any("ray start --head" in c for c in cfg["head_start_ray_commands"])
    assert any("ray start --address=" in c for c in cfg["worker_start_ray_commands"])
    assert any("TORCH_SPEC=torch" in c for c in cfg["setup_commands"]), "GPU nodes need the CUDA torch build"


# ------------------------------------------------------------------------------ referenced things exist

def _all_commands() -> list[str]:
    cmds = []
    for p in MANIFESTS:
        text = p.read_text()
        cmds += [line for line in text.splitlines() if "python " in line or "make " in line or "jobs/" in line]
        for d in _docs(p):
            for c in _walk_commands(d):
                cmds.append(c)
    cmds += [line for line in (CLUSTER / "crontab").read_text().splitlines() if line and not line.startswith("#")
             and "=" not in line.split()[0]]
    return cmds


def _walk_commands(d):
    if isinstance(d, dict):
        for k, v in d.items():
            if k == "command" and isinstance(v, list):
                yield " ".join(v)
            else:
                yield from _walk_commands(v)
    elif isinstance(d, list):
        for v in d:
            yield from _walk_commands(v)


def _make_targets() -> set[str]:
    return set(re.findall(r"^([A-Za-z][\w-]*):", (ROOT / "Makefile").read_text(), re.M))


def test_referenced_paths_and_make_targets_exist():
    cmds = _all_commands()
    paths = {m for c in cmds for m in re.findall(r"\b((?:jobs|sweeps/configs|cluster|dashboards)/[\w./-]+\.(?:py|yaml))", c)}
    assert "jobs/nightly.py" in paths and "jobs/sweep.py" in paths and "sweeps/configs/nightly_lite.yaml" in paths
    missing = sorted(p for p in paths if not (ROOT / p).exists())
    assert not missing, f"manifests reference files that are not in the repo: {missing}"
    targets = {t for c in cmds for t in re.findall(r"\bmake (?:-C \S+ )?([a-z][\w-]*)", c)}
    assert targets and targets <= _make_targets(), targets - _make_targets()


def _job_invocations():
    """(script, argv) for every `python jobs/X.py ...` in the manifests and crontab."""
    out = []
    for c in _all_commands():
        for m in re.finditer(r"python (jobs/\w+\.py)((?: (?!>>|&&|\|)[^\s]+)*)", c):
            out.append((m.group(1), shlex.split(m.group(2))))
    return out


def test_job_flags_are_accepted_by_the_jobs_parsers():
    calls = _job_invocations()
    assert {s for s, _ in calls} == {"jobs/sweep.py", "jobs/nightly.py"}
    from jobs.nightly import build_parser

    for script, argv in calls:
        if script == "jobs/nightly.py":
            build_parser().parse_args(argv)                         # raises SystemExit on an unknown flag
        else:
            sweep = (ROOT / "jobs/sweep.py")
            if not sweep.exists():
                pytest.fail("jobs/sweep.py is referenced but missing")
            text = sweep.read_text()
            for flag in (a for a in argv if a.startswith("--")):
                assert f'"{flag}"' in text, f"jobs/sweep.py has no {flag} flag"
        for a in argv:
            if a.endswith(".yaml"):
                assert (ROOT / a).exists(), a


# ------------------------------------------------------------------------------ real schemas

K8S_VERSIONS = ("1.30", None)          # oldest we document (CronJob timeZone needs >= 1.27), newest the package knows
RAY_KINDS = {"RayCluster", "RayJob", "RayCronJob"}


def _k8s_validate(doc: dict) -> None:
    import kubernetes_validate

    for v in K8S_VERSIONS:
        kubernetes_validate.validate(doc, v or kubernetes_validate.latest_version(), strict=True)


def test_kubernetes_kinds_validate_strictly():
    docs = [(p, d) for p, d in _k8s_docs() if d["kind"] not in RAY_KINDS]
    assert {d["kind"] for _, d in docs} >= {"CronJob", "PersistentVolumeClaim", "Deployment", "Service"}
    for p, d in docs:
        _k8s_validate(d)


def _pod_templates(path: str, spec: dict):
    """(where, PodTemplateSpec) for every pod template inside a KubeRay spec (RayCluster, RayJob or RayCronJob)."""
    if "jobTemplate" in spec:
        yield from _pod_templates(f"{path}.jobTemplate", spec["jobTemplate"])
        return
    if "submitterPodTemplate" in spec:
        yield f"{path}.submitterPodTemplate", spec["submitterPodTemplate"]
    rc = spec.get("rayClusterSpec", spec)
    yield f"{path}.headGroupSpec.template", rc["headGroupSpec"]["template"]
    for i, w in enumerate(rc.get("workerGroupSpecs", [])):
        yield f"{path}.workerGroupSpecs[{i}].template", w["template"]


def test_kuberay_pod_templates_validate_strictly():
    import kubernetes_validate

    seen = 0
    for p, d in _k8s_docs():
        if d["kind"] in RAY_KINDS:
            for where, tmpl in _pod_templates(d["kind"], d["spec"]):
                try:
                    _k8s_validate({"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": "t"}, "template": tmpl})
                except kubernetes_validate.ValidationError as exc:
                    pytest.fail(f"{p}: {where}: {exc.message}")
                seen += 1
    assert seen == 6                        # head + worker in each of the three KubeRay manifests
    with pytest.raises(kubernetes_validate.ValidationError):     # strict: a misspelt field fails
        _k8s_validate({"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": "t"},
                       "template": {"spec": {"containers": [{"name": "c", "image": "i", "volumeMount": []}]}}})


def test_kuberay_fields_are_fields_of_the_crd():
    docs = [(p, d) for p, d in _k8s_docs() if d["kind"] in RAY_KINDS]
    assert {d["kind"] for _, d in docs} == RAY_KINDS
    for p, d in docs:
        assert not crd_check(d), f"{p}: {crd_check(d)}"


def test_crd_check_catches_typos_types_and_enums():
    (_, rj), = _by_kind("RayJob")
    bad = yaml.safe_load(yaml.safe_dump(rj))
    bad["spec"]["ttlSecondAfterFinished"] = 60                                    # typo
    bad["spec"]["rayClusterSpec"]["authOptions"]["mode"] = "tokens"               # enum
    bad["spec"]["rayClusterSpec"]["workerGroupSpecs"][0]["replicas"] = "1"        # type
    bad["spec"]["rayClusterSpec"]["headGroupSpec"]["rayStartParams"]["num-gpus"] = 0   # map of strings
    del bad["spec"]["rayClusterSpec"]["workerGroupSpecs"][0]["maxReplicas"]       # required
    got = "\n".join(crd_check(bad))
    for needle in ("ttlSecondAfterFinished: not a field", "'tokens' not one of", "replicas: integer expected",
                   "num-gpus", "missing required 'maxReplicas'"):
        assert needle in got, (needle, got)


def _job_specs():
    (_, rj), = _by_kind("RayJob")
    (_, cron), = _by_kind("RayCronJob")
    return [("RayJob", rj["spec"]), ("RayCronJob.jobTemplate", cron["spec"]["jobTemplate"])]


def test_finished_rayjobs_are_cleaned_up_by_ttl():
    """deletionRules as KubeRay v1.6.2 validates them (utils/validation.go), and every end state deletes the RayJob."""
    for where, spec in _job_specs():
        rules = spec["deletionStrategy"]["deletionRules"]
        # rules mode excludes the legacy fields and the global TTL / shutdown flag
        assert not {"shutdownAfterJobFinishes", "ttlSecondsAfterFinished"} & set(spec), where
        keys = [(tuple(sorted((k, v) for k, v in r["condition"].items() if k != "ttlSeconds")), r["policy"]) for r in rules]
        assert len(keys) == len(set(keys)), f"{where}: duplicate (condition, policy)"
        ttl = {k: r["condition"].get("ttlSeconds", 0) for k, r in zip(keys, rules)}
        for cond in {c for c, _ in keys}:
            assert ttl[(cond, "DeleteSelf")] >= ttl.get((cond, "DeleteCluster"), 0), f"{where}: {cond}"
        ends = {c for c, pol in keys if pol == "DeleteSelf"}
        assert ends == {(("jobStatus", "SUCCEEDED"),), (("jobStatus", "FAILED"),), (("jobDeploymentStatus", "Failed"),)}
        assert {c for c, pol in keys if pol == "DeleteCluster"} == ends               # GPUs handed back in every end
        assert spec["preRunningDeadlineSeconds"] <= 3600, f"{where}: a RayJob without GPUs must not wait silently"


def test_results_claims_are_defined_and_mounted_on_heads_only():
    claims = {d["metadata"]["name"]: d for p, d in _by_kind("PersistentVolumeClaim")}
    used = []
    for p, d in _k8s_docs():
        if d["kind"] not in RAY_KINDS:
            continue
        for where, tmpl in _pod_templates(d["kind"], d["spec"]):
            vols = [v["persistentVolumeClaim"]["claimName"] for v in tmpl["spec"].get("volumes", [])
                    if "persistentVolumeClaim" in v]
            sc = tmpl["spec"].get("securityContext", {})
            assert sc.get("runAsUser") == 1000 and sc.get("runAsGroup") == 100, f"{p}: {where}: the image's ray user"
            if "headGroupSpec" in where:
                assert len(vols) == 1 and vols[0] in claims, f"{p}: {where}: head mounts a claim of pvc-results.yaml"
                assert sc.get("fsGroup") == 100, f"{p}: {where}: fsGroup makes the store writable for gid 100"
                assert tmpl["spec"]["containers"][0]["volumeMounts"][0]["mountPath"] == "/mnt/results"
                used.append(vols[0])
            else:
                assert not vols, f"{p}: {where}: only the driver (head) writes the store"
    assert len(used) == len(set(used)) == 3, f"one ReadWriteOnce claim per kind of head: {used}"
    for name in used:
        assert claims[name]["spec"]["accessModes"] == ["ReadWriteOnce"]


def test_every_pod_reaches_mlflow_and_the_ray_token():
    (_, svc), = [(p, d) for p, d in _by_kind("Service") if d["metadata"]["name"] == "mlflow"]
    uri = f"http://{svc['metadata']['name']}:{svc['spec']['ports'][0]['port']}"
    (_, dep), = _by_kind("Deployment")
    args = dep["spec"]["template"]["spec"]["containers"][0]["command"]
    assert svc["metadata"]["name"] in args[args.index("--allowed-hosts") + 1].split(",")   # MLflow's Host check
    for p, d in _k8s_docs():
        if d["kind"] in RAY_KINDS:
            for where, tmpl in _pod_templates(d["kind"], d["spec"]):
                if "headGroupSpec" in where:
                    env = {e["name"]: e.get("value") for e in tmpl["spec"]["containers"][0]["env"]}
                    assert env["MLFLOW_TRACKING_URI"] == uri, f"{p}: {where}"
            rc = d["spec"].get("rayClusterSpec") or d["spec"].get("jobTemplate", {}).get("rayClusterSpec") or d["spec"]
            assert rc["authOptions"]["mode"] == "token", p
    (_, rc), = _by_kind("RayCluster")
    (_, cj), = _by_kind("CronJob")
    env = {e["name"]: e for e in cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["RAY_AUTH_MODE"]["value"] == "token"
    # KubeRay v1.6.2 puts the token in a Secret named after the RayCluster, key auth_token (raycluster_controller.go)
    assert env["RAY_AUTH_TOKEN"]["valueFrom"]["secretKeyRef"] == {"name": rc["metadata"]["name"], "key": "auth_token"}


def test_launcher_passes_rays_validate_config():
    from ray.autoscaler._private.util import prepare_config, validate_config

    (cfg,) = _docs(CLUSTER / "launcher.yaml")
    validate_config(prepare_config(cfg))                      # Ray's own schema, with the defaults ray up fills in
    bad = yaml.safe_load(yaml.safe_dump(cfg))
    bad["available_node_types"]["gpu_worker"]["resource"] = {"GPU": 1}
    with pytest.raises(Exception, match="resource"):
        validate_config(prepare_config(bad))
    for t in cfg["available_node_types"].values():
        assert t["node_config"]["ImageId"] != "latest_dlami", "Ubuntu 18.04 DLAMI: Python 3.6, glibc too old for torch"
    setup = " ".join(cfg["setup_commands"])
    m = re.search(r"make setup PYTHON=python3\.(\d+)", setup)
    assert m and int(m.group(1)) >= 11 and f"python3.{m.group(1)}-venv" in setup
    venv = "/home/ubuntu/vissweep/.venv"
    assert any(f"{venv}/bin/pip install" in c and "boto3" in c for c in cfg["head_setup_commands"])
    for c in cfg["head_start_ray_commands"] + cfg["worker_start_ray_commands"]:
        assert c.startswith(f"source {venv}/bin/activate && "), c      # ray start (and job `python`) from that venv


def test_every_sweep_example_names_its_store():
    texts = [p.read_text() for p in MANIFESTS] + [(CLUSTER / "crontab").read_text(), (ROOT / "docs/DEPLOY.md").read_text()]
    calls = [m.group(0) for t in texts for m in re.finditer(r"python jobs/(?:sweep|nightly)\.py[^\n`]*", t)]
    assert len(calls) >= 8
    assert all("--store " in c for c in calls), [c for c in calls if "--store " not in c]


def test_crontab_failures_reach_cron_mail(tmp_path):
    """Run the crontab's command with a stand-in python: silent when it passes, exit code and log tail when it fails."""
    line = next(ln for ln in (CLUSTER / "crontab").read_text().splitlines() if re.match(r"^[\d*]", ln))
    assert re.search(r"^MAILTO=\S+@", (CLUSTER / "crontab").read_text(), re.M)
    cmd = line.split(None, 5)[5].replace("cd /opt/vissweep", f"cd {tmp_path}")
    (tmp_path / ".venv/bin").mkdir(parents=True)
    py = tmp_path / ".venv/bin/python"
    for rc in (0, 1, 3):
        py.write_text(f"#!/bin/bash\necho night-{rc} log line\nexit {rc}\n")
        py.chmod(0o755)
        out = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=30)
        assert out.returncode == rc
        mail = out.stdout + out.stderr                       # cron mails both streams
        if rc == 0:
            assert mail == ""
        else:
            assert f"FAILED with exit code {rc}" in mail and f"night-{rc} log line" in mail
    assert (tmp_path / "results/nightly.log").read_text().count("log line") == 3


def test_dockerfile_pins_torch_and_keeps_the_context_small():
    text = (CLUSTER / "Dockerfile").read_text()
    base = re.search(r"^FROM (\S+)", text, re.M).group(1)
    assert re.fullmatch(r"rayproject/ray:2\.60\.0-py3(1[1-9])-cpu", base), base   # Python >= 3.11, no 2nd CUDA
    assert "ARG TORCH_SPEC=torch==2.13.0" in text and "torch.version.cuda != '${TORCH_CUDA}'" in text
    assert re.findall(r"^USER (\S+)", text, re.M)[-1] == "ray"
    assert "chown ray:users /mnt/results" in text
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".git", ".venv", "results", "mlflow.db", "mlruns"} <= ignored
