"""cluster/ manifests: every YAML parses, has the fields its kind needs, valid 5-field cron schedules,
GPU resources on workers, and every command and repo path it references exists (jobs, configs, make targets,
CLI flags accepted by the job's own parser)."""
import re
import shlex
from pathlib import Path

import pytest
import yaml

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
