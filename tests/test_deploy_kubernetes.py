"""The Kubernetes base (deploy/kubernetes): schema-valid for a recent Kubernetes (strict), the
pod shaped as the design says (sidecar + OPA in one pod, probes, hardening, resources), the
sidecar's ConfigMap a valid configuration for sidecar.settings, and OPA's arguments working
with the real OPA binary."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from sidecar.devtools.demo import free_ports
from sidecar.settings import load_settings
from tests.helpers import BundleServer, make_bundle, rsa_keypair, wait_for

ROOT = Path(__file__).resolve().parents[1]
K8S = ROOT / "deploy" / "kubernetes"
K8S_VERSION = "1.37.0"  # the newest schemas kubernetes-validate ships
OPA_IMAGE = "openpolicyagent/opa:1.22.3-static"


def kustomization() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    return doc


def manifests() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for name in kustomization()["resources"]:
        docs.extend(d for d in yaml.safe_load_all((K8S / name).read_text()) if d)
    return docs


def one(kind: str, name: str | None = None) -> dict[str, Any]:
    found = [d for d in manifests() if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def container(name: str) -> dict[str, Any]:
    return next(c for c in one("Deployment")["spec"]["template"]["spec"]["containers"] if c["name"] == name)


def test_every_yaml_file_is_in_the_kustomization() -> None:
    listed = set(kustomization()["resources"])
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk


@pytest.mark.parametrize("doc", manifests(), ids=lambda d: f"{d['kind']}/{d['metadata']['name']}")
def test_manifest_is_valid_kubernetes_strict(doc: dict[str, Any]) -> None:
    try:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        pytest.fail(f"{doc['kind']}/{doc['metadata']['name']}: {exc.message} at {list(exc.path)}")


def test_the_validator_rejects_a_misspelt_field() -> None:
    bad = yaml.safe_load((K8S / "service.yaml").read_text())
    bad["spec"]["ports"][0]["targetport"] = "proxy"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, K8S_VERSION, strict=True)


def test_kustomize_builds_when_kubectl_is_present() -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl not installed (the manifests are validated one by one above)")
    res = subprocess.run([kubectl, "kustomize", str(K8S)], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    built = [d for d in yaml.safe_load_all(res.stdout) if d]
    assert {d["kind"] for d in built} >= {"Deployment", "Service", "ConfigMap", "NetworkPolicy",
                                          "PodDisruptionBudget"}
    images = [c["image"] for d in built if d["kind"] == "Deployment"
              for c in d["spec"]["template"]["spec"]["containers"]]
    assert all(":" in i and not i.endswith(":latest") for i in images), images


def test_sidecar_and_opa_share_one_pod_with_probes() -> None:
    pod = one("Deployment")["spec"]["template"]["spec"]
    assert sorted(c["name"] for c in pod["containers"]) == ["opa", "sidecar"]
    opa = container("opa")
    assert opa["image"] == OPA_IMAGE
    assert "--addr=127.0.0.1:8181" in opa["args"]  # loopback only: only the sidecar can ask OPA
    side = container("sidecar")
    ports = {p["name"]: p["containerPort"] for p in side["ports"]}
    assert set(ports) == {"proxy", "admin"}
    assert side["livenessProbe"]["httpGet"] == {"path": "/-/healthz", "port": "admin"}
    assert side["readinessProbe"]["httpGet"] == {"path": "/-/readyz", "port": "admin"}
    assert opa["readinessProbe"]["httpGet"]["path"] == "/health?bundles=true"
    svc = one("Service")
    assert [p["targetPort"] for p in svc["spec"]["ports"]] == ["proxy"]  # never the admin port
    labels = one("Deployment")["spec"]["template"]["metadata"]["labels"]
    for selector in (svc["spec"]["selector"], one("PodDisruptionBudget")["spec"]["selector"]["matchLabels"],
                     one("NetworkPolicy")["spec"]["podSelector"]["matchLabels"]):
        assert selector.items() <= labels.items()


def test_hardening_and_resources() -> None:
    pod = one("Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
    assert pod["automountServiceAccountToken"] is False
    for c in pod["containers"]:
        sc = c["securityContext"]
        assert sc["runAsNonRoot"] is True, c["name"]
        assert sc["readOnlyRootFilesystem"] is True, c["name"]
        assert sc["allowPrivilegeEscalation"] is False, c["name"]
        assert sc["capabilities"]["drop"] == ["ALL"] and "add" not in sc["capabilities"], c["name"]
        for kind in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(c["resources"][kind]), f"{c['name']}: resources.{kind}"
        assert not c["image"].endswith(":latest")
    netpol = one("NetworkPolicy")["spec"]
    assert set(netpol["policyTypes"]) == {"Ingress", "Egress"}
    assert one("PodDisruptionBudget")["spec"]["minAvailable"] >= 1


def test_only_monitoring_reaches_opas_metrics() -> None:
    """OPA's bundle status is scraped from its diagnostic port (read-only: /health, /metrics); the
    NetworkPolicy lets only the monitoring namespace in there, and OPA's API stays on loopback."""
    opa = container("opa")
    assert "--diagnostic-addr=0.0.0.0:8282" in opa["args"] and "--addr=127.0.0.1:8181" in opa["args"]
    assert {p["name"]: p["containerPort"] for p in opa["ports"]} == {"opa-diag": 8282}
    rules = one("NetworkPolicy")["spec"]["ingress"]
    to_diag = [r for r in rules if any(p["port"] == "opa-diag" for p in r["ports"])]
    assert to_diag == [r for r in rules if {"kubernetes.io/metadata.name": "monitoring"}
                       in [f.get("namespaceSelector", {}).get("matchLabels") for f in r["from"]]]
    assert len(to_diag) == 1 and len(to_diag[0]["from"]) == 1
    assert yaml.safe_load(one("ConfigMap", "wams-opa-config")["data"]["config.yaml"])["status"] == {"prometheus": True}


def test_opa_configmap_is_the_shipped_opa_config() -> None:
    cm = one("ConfigMap", "wams-opa-config")
    assert yaml.safe_load(cm["data"]["config.yaml"]) == yaml.safe_load(
        (ROOT / "deploy" / "opa" / "config.yaml").read_text())


# ---- the sidecar's config, as the pod sees it ------------------------------------------------

def _pod_filesystem(tmp: Path) -> tuple[dict[str, Path], re.Pattern[str]]:
    """Recreate the sidecar container's mounts under ``tmp``: secret items as placeholder files,
    writable volumes as folders. Returns mountPath → folder, and a pattern matching mount paths."""
    pod = one("Deployment")["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts: dict[str, Path] = {}
    for m in container("sidecar")["volumeMounts"]:
        folder = tmp / m["mountPath"].lstrip("/")
        folder.mkdir(parents=True, exist_ok=True)
        mounts[m["mountPath"]] = folder
        vol = volumes[m["name"]]
        for item in vol.get("secret", vol.get("configMap", {})).get("items", []):
            # Placeholders: a real EC public key where a PEM is expected, 32 random-ish bytes else.
            if item["path"].endswith(".pem"):
                from cryptography.hazmat.primitives import serialization
                from cryptography.hazmat.primitives.asymmetric import ec
                pub = ec.generate_private_key(ec.SECP256R1()).public_key()
                (folder / item["path"]).write_bytes(pub.public_bytes(
                    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
            else:
                (folder / item["path"]).write_text("placeholder-0123456789abcdef0123456789abcdef")
    alternatives = "|".join(re.escape(p) for p in sorted(mounts, key=len, reverse=True))
    return mounts, re.compile(rf"(?<![\w./-])({alternatives})(?=/|\s|$)")


def _sidecar_config(tmp: Path) -> tuple[Path, dict[str, str], dict[str, Path]]:
    mounts, pattern = _pod_filesystem(tmp)
    text = one("ConfigMap", "wams-sidecar-config")["data"]["config.yaml"]
    cfg_dir = mounts["/etc/sidecar"]
    config = cfg_dir / "config.yaml"
    config.write_text(pattern.sub(lambda m: str(mounts[m.group(1)]), text))
    env = {}
    for e in container("sidecar")["env"]:
        if e["name"].startswith("SIDECAR_") and "value" in e:
            value = e["value"].replace("$(POD_NAME)", "wams-sidecar-7d9f8-abcde")
            env[e["name"]] = pattern.sub(lambda m: str(mounts[m.group(1)]), value)
    return config, env, mounts


def test_sidecar_configmap_is_valid_for_load_settings(tmp_path: Path) -> None:
    config, env, mounts = _sidecar_config(tmp_path)
    settings = load_settings(config, env=env)
    side = container("sidecar")
    ports = {p["name"]: p["containerPort"] for p in side["ports"]}
    assert settings.listen.proxy_addr[1] == ports["proxy"]
    assert settings.listen.admin_addr[1] == ports["admin"]
    assert settings.listen.admin_addr[0] == "0.0.0.0"  # the kubelet probes the pod IP
    assert settings.opa.url == "http://127.0.0.1:8181"
    assert side["args"] == ["serve", "--config", "/etc/sidecar/config.yaml"]
    # One records file per pod, named after the pod (records.per_instance, SIDECAR_INSTANCE).
    assert settings.records.path.name == "records-wams-sidecar-7d9f8-abcde.jsonl"
    writable = {p for m, p in mounts.items()
                if not next(v for v in side["volumeMounts"] if v["mountPath"] == m).get("readOnly")}
    for path in (settings.records.path.parent, settings.metrics.multiproc_dir):
        assert path is not None and any(path.is_relative_to(w) for w in writable), \
            f"{path} is not on a writable volume (the root filesystem is read-only)"
    secrets = mounts["/run/secrets/wams-sidecar"]
    assert settings.pseudonymisation.key_file is not None and settings.pseudonymisation.key_file.is_relative_to(secrets)
    assert settings.upstream.zgw_jwt is not None and settings.upstream.zgw_jwt.client_id
    assert all(k.file.is_relative_to(secrets) for k in settings.jwt.keys)
    assert set(settings.catalogue.informatieobjecttypen.values()) == {
        "medisch", "wvggz_wzd", "coordinatiedossier", "algemeen"}
    # The in-process engine: the Wasm bundle from OPA's bundle server, verified with OPA's public
    # key (the same ConfigMap, mounted read-only), kept on a writable volume of the pod.
    o = settings.opa
    assert o.engine == "wasm" and o.wasm_bundle is not None and o.wasm_bundle_public_key is not None
    opa_env = {e["name"]: e["value"] for e in container("opa")["env"]}
    assert o.wasm_bundle_url == opa_env["BUNDLE_SERVICE_URL"] + "/bundle-wasm.tar.gz"
    assert any(o.wasm_bundle.parent.is_relative_to(w) for w in writable), "wasm_bundle not on a writable volume"
    key_mount = next(m for m in side["volumeMounts"] if m["name"] == "opa-bundle-key")
    assert key_mount.get("readOnly") is True
    assert o.wasm_bundle_public_key == mounts[key_mount["mountPath"]] / "bundle-signing.pub.pem"
    assert any(m["name"] == "opa-bundle-key" for m in container("opa")["volumeMounts"])
    assert "--set-file=keys.wams-bundle.key=/etc/opa/keys/bundle-signing.pub.pem" in container("opa")["args"]
    assert o.wasm_bundle_signing_alg == yaml.safe_load(
        one("ConfigMap", "wams-opa-config")["data"]["config.yaml"])["keys"]["wams-bundle"]["algorithm"]


def test_sidecar_serve_check_accepts_the_config(tmp_path: Path) -> None:
    """The container's own command, with --check (validate and exit), on the pod's files."""
    config, env, _ = _sidecar_config(tmp_path)
    res = subprocess.run([sys.executable, "-m", "sidecar", "serve", "--config", str(config), "--check"],
                         capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin", **env})
    assert res.returncode == 0, res.stdout + res.stderr


def test_a_broken_config_is_refused(tmp_path: Path) -> None:
    """The validation above is not vacuous: a misspelt key fails load_settings."""
    from sidecar.settings import ConfigError

    config, env, _ = _sidecar_config(tmp_path)
    config.write_text(config.read_text().replace("controlling_orgs:", "controling_orgs:"))
    with pytest.raises(ConfigError, match="controling_orgs"):
        load_settings(config, env=env)


def test_opa_container_args_work_with_the_real_opa(tmp_path: Path) -> None:
    """OPA started with exactly the Deployment's arguments (paths and ports moved to tmp) loads a
    signed bundle from the bundle server and reports healthy on the diagnostic port."""
    from sidecar.devtools.demo import find_opa

    priv, pub = rsa_keypair(tmp_path, "signer")
    srv_dir = tmp_path / "srv"
    srv_dir.mkdir()
    server = BundleServer(srv_dir)
    server.publish(make_bundle(tmp_path / "b.tar.gz", priv, "rev-k8s"))
    # make bundle writes the Wasm twin beside it; the operator publishes both.
    shutil.copy(tmp_path / "bundle-wasm.tar.gz", srv_dir / "bundle-wasm.tar.gz")
    (tmp_path / "etc/opa/config").mkdir(parents=True)
    (tmp_path / "etc/opa/keys").mkdir(parents=True)
    (tmp_path / "etc/opa/config/config.yaml").write_text(one("ConfigMap", "wams-opa-config")["data"]["config.yaml"])
    shutil.copy(pub, tmp_path / "etc/opa/keys/bundle-signing.pub.pem")
    api, diag = free_ports(2)
    opa = container("opa")
    args = [a.replace("/etc/opa", str(tmp_path / "etc/opa")).replace("127.0.0.1:8181", f"127.0.0.1:{api}")
            .replace("0.0.0.0:8282", f"127.0.0.1:{diag}") for a in opa["args"]]
    env = {e["name"]: e["value"] for e in opa["env"]}
    assert set(env) == {"BUNDLE_SERVICE_URL"}
    proc = subprocess.Popen([find_opa(), *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={"BUNDLE_SERVICE_URL": server.url})
    try:
        import urllib.request

        def healthy() -> bool:
            assert proc.poll() is None, "OPA exited with the Deployment's arguments"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{diag}/health?bundles=true", timeout=1) as r:
                    status: int = r.status
                    return status == 200
            except OSError:
                return False

        wait_for("OPA healthy on the diagnostic port", healthy, timeout=30)
        # The bundle status the wams-opa scrape job reads, on the same read-only port.
        with urllib.request.urlopen(f"http://127.0.0.1:{diag}/metrics", timeout=2) as r:
            body = r.read().decode()
        assert 'last_success_bundle_activation{active_revision="rev-k8s",name="wams"}' in body
        assert re.search(r'^bundle_loaded_counter\{name="wams"\} [1-9]', body, re.M), body[:2000]

        # The sidecar container's opa settings (URL on this bundle server, this key) download and
        # verify the Wasm bundle of the same revision as OPA's.
        from sidecar.wasm_download import BundleDownloader
        from sidecar.wasm_engine import WasmEngine

        config, side_env, _ = _sidecar_config(tmp_path / "pod")
        o = load_settings(config, env=side_env).opa
        assert o.wasm_bundle_public_key is not None and o.wasm_bundle is not None
        shutil.copy(pub, o.wasm_bundle_public_key)
        o = o.model_copy(update={"wasm_bundle_url": o.wasm_bundle_url.replace(  # type: ignore[union-attr]
            env["BUNDLE_SERVICE_URL"], server.url)})
        engine = WasmEngine(o, poll=False)
        assert not engine.healthy()
        downloader = BundleDownloader(o, on_new=engine.refresh)
        try:
            assert downloader.download_once() == "updated"
            assert engine.healthy() and engine.revision == "rev-k8s"
        finally:
            downloader.close()
            engine.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        server.close()


# ---- the nightly records verify (cronjob-records-verify.yaml) --------------------------------

def _job_pod() -> dict[str, Any]:
    job: dict[str, Any] = one("CronJob", "wams-sidecar-records-verify")["spec"]["jobTemplate"]
    spec: dict[str, Any] = job["spec"]["template"]["spec"]
    return spec


def test_records_verify_cronjob_reads_the_records_and_writes_only_its_status() -> None:
    cron = one("CronJob", "wams-sidecar-records-verify")["spec"]
    assert re.fullmatch(r"\d+ \d+ \* \* \*", cron["schedule"]), "nightly"
    assert cron["concurrencyPolicy"] == "Forbid"
    pod = _job_pod()
    (job,) = pod["containers"]
    assert job["image"] == container("sidecar")["image"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m for m in job["volumeMounts"]}
    deploy_volumes = {v["name"]: v for v in one("Deployment")["spec"]["template"]["spec"]["volumes"]}
    side_mounts = {m["name"]: m for m in container("sidecar")["volumeMounts"]}
    # The records: the Deployment's volume, at the same path, read-only twice over.
    records = next(m for m in job["volumeMounts"] if m["name"] == "records")
    assert records["readOnly"] is True and volumes["records"]["persistentVolumeClaim"]["readOnly"] is True
    assert volumes["records"]["persistentVolumeClaim"]["claimName"] == \
        deploy_volumes["records"]["persistentVolumeClaim"]["claimName"] == one("PersistentVolumeClaim",
                                                                                 "wams-sidecar-records")["metadata"]["name"]
    assert records["mountPath"] == side_mounts["records"]["mountPath"]
    # The status: its own small volume, writable by the job, read-only for the sidecars.
    status = next(m for m in job["volumeMounts"] if m["name"] == "records-verify")
    assert not status.get("readOnly")
    claim = volumes["records-verify"]["persistentVolumeClaim"]["claimName"]
    assert claim == deploy_volumes["records-verify"]["persistentVolumeClaim"]["claimName"]
    assert one("PersistentVolumeClaim", claim)["spec"]["accessModes"] == ["ReadWriteMany"]
    assert side_mounts["records-verify"]["readOnly"] is True
    assert side_mounts["records-verify"]["mountPath"] == status["mountPath"]
    args = job["args"]
    assert args[:3] == ["records", "verify", records["mountPath"]]
    assert args[3] == "--metrics-file" and Path(args[4]).parent == Path(status["mountPath"])
    writable = [p for p, m in mounts.items() if not m.get("readOnly")]
    assert sorted(writable) == sorted([status["mountPath"], "/tmp"])


def test_records_verify_cronjob_is_hardened_like_the_deployment() -> None:
    pod = _job_pod()
    assert pod["securityContext"] == one("Deployment")["spec"]["template"]["spec"]["securityContext"]
    assert pod["automountServiceAccountToken"] is False and pod["restartPolicy"] == "Never"
    (job,) = pod["containers"]
    assert job["securityContext"] == container("sidecar")["securityContext"]
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(job["resources"][kind])


def test_the_sidecar_exports_what_the_cronjob_writes(tmp_path: Path) -> None:
    """The ConfigMap's records folder is what the job checks, and its verify_status_file the job's
    --metrics-file (both seen through the pod's mounts)."""
    config, env, mounts = _sidecar_config(tmp_path)
    settings = load_settings(config, env=env)
    (job,) = _job_pod()["containers"]
    in_pod = {str(folder): path for path, folder in mounts.items()}

    def pod_path(p: Path) -> str:
        host = next(h for h in sorted(in_pod, key=len, reverse=True) if str(p).startswith(h))
        return in_pod[host] + str(p)[len(host):]

    assert settings.records.verify_status_file is not None
    assert pod_path(settings.records.verify_status_file) == job["args"][4]
    assert pod_path(settings.records.path.parent) == job["args"][2]
    assert settings.records.rotate_daily is True


def test_the_cronjob_command_runs_on_a_records_folder(tmp_path: Path) -> None:
    """The job's own arguments (paths moved to tmp) on a folder written by an anchored writer."""
    from sidecar.records import RecordWriter
    from sidecar.records_status import parse
    from tests.helpers import decision_record as _rec

    (job,) = _job_pod()["containers"]
    records, status = tmp_path / "records", tmp_path / "records-verify"
    records.mkdir()
    status.mkdir()
    w = RecordWriter(records / "records-wams-sidecar-7d9f8-abcde.jsonl", anchored=True)
    try:
        w.write_many([_rec(1), _rec(2)])
    finally:
        w.close()
    args = [a.replace(job["args"][2], str(records)).replace(str(Path(job["args"][4]).parent), str(status))
            for a in job["args"]]
    res = subprocess.run([sys.executable, "-m", "sidecar", *args], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr
    values = parse((status / Path(job["args"][4]).name).read_text())
    assert values["sidecar_records_verify_success"] == 1 and values["sidecar_records_verify_records"] == 2
