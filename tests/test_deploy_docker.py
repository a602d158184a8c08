"""Dockerfile and deploy/compose.yaml, without a Docker engine (there is none here): the
Dockerfile is parsed and checked (stages, pinned bases, non-root final user, entrypoint), the
wheel its builder stage makes is built from exactly what it COPYs, and the compose file is
validated against the compose-spec schema that check-jsonschema vendors."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from sidecar.settings import load_settings

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
OPA_IMAGE = "openpolicyagent/opa:1.22.3-static"


@dataclass
class Stage:
    image: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, op: str) -> list[str]:
        return [args for o, args in self.instructions if o == op]


def parse_dockerfile(text: str) -> tuple[dict[str, str], list[Stage]]:
    """Instructions with line continuations joined; ARG defaults before the first FROM resolved."""
    logical: list[str] = []
    buf = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not buf and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        logical.append(buf + line)
        buf = ""
    assert not buf, "Dockerfile ends inside a continued line"
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for inst in logical:
        op, _, args = inst.partition(" ")
        op = op.upper()
        args = args.strip()
        if op == "ARG" and not stages:
            k, _, v = args.partition("=")
            global_args[k] = v
        elif op == "FROM":
            image_expr, *rest = args.split()
            image = re.sub(r"\$\{?(\w+)\}?", lambda m: global_args[m.group(1)], image_expr)
            name = rest[1] if len(rest) == 2 and rest[0].upper() == "AS" else None
            stages.append(Stage(image, name))
        else:
            assert stages, f"{op} before the first FROM"
            stages[-1].instructions.append((op, args))
    return global_args, stages


def dockerfile() -> list[Stage]:
    return parse_dockerfile((ROOT / "Dockerfile").read_text())[1]


def test_stages_and_pinned_base_images() -> None:
    stages = dockerfile()
    assert [s.name for s in stages] == ["builder", "runtime"]
    for s in stages:
        _, _, tag = s.image.partition(":")
        assert tag and tag != "latest", f"stage {s.name}: base image {s.image!r} must carry a version tag"
        assert s.image.startswith("python:3.11-slim")
    assert not any("opa" in s.image for s in stages), "OPA runs as its own container, not in this image"


def test_final_stage_runs_as_non_root_with_the_sidecar_entrypoint() -> None:
    final = dockerfile()[-1]
    users = final.all("USER")
    assert users, "the final stage must set USER"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0"), user
    # The user must exist: created in the final stage with that uid (or be a numeric uid).
    assert user.isdigit() or any(f" {user}" in r for r in final.all("RUN"))
    assert json.loads(final.all("ENTRYPOINT")[-1]) == ["sidecar"]
    assert json.loads(final.all("CMD")[-1]) == ["serve", "--config", "/etc/sidecar/config.yaml"]
    copies = final.all("COPY")
    assert copies and all(c.startswith("--from=builder ") for c in copies), "final stage copies only the venv"
    exposed = {p for e in final.all("EXPOSE") for p in e.split()}
    assert exposed == {"8080", "9180"}


def test_the_parser_would_catch_a_latest_tag_and_a_root_user() -> None:
    _, stages = parse_dockerfile("ARG B=python:latest\nFROM ${B} AS x\nUSER root\n")
    assert stages[0].image == "python:latest" and stages[0].all("USER") == ["root"]


def _glob_regex(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern as a regex: ``**`` any path, ``*`` and ``?`` within one segment."""
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
        elif pattern.startswith("**", i):
            out += ".*"
            i += 2
        elif pattern[i] == "*":
            out += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            out += "[^/]"
            i += 1
        else:
            out += re.escape(pattern[i])
            i += 1
    return re.compile(out)


def _dockerignore_allows(rel: str) -> bool:
    """Docker's rule: the last matching pattern wins; a pattern matching a folder covers its contents."""
    allowed = True
    parts = rel.split("/")
    prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    for raw in (ROOT / ".dockerignore").read_text().splitlines():
        pat = raw.strip()
        if not pat or pat.startswith("#"):
            continue
        neg = pat.startswith("!")
        regex = _glob_regex(pat.lstrip("!").rstrip("/"))
        if any(regex.fullmatch(p) for p in prefixes):
            allowed = neg
    return allowed


def test_builder_copies_exist_and_pass_dockerignore() -> None:
    builder = dockerfile()[0]
    sources = [shlex.split(c)[:-1] for c in builder.all("COPY")]
    flat = [s for srcs in sources for s in srcs]
    assert flat == ["requirements.lock", "pyproject.toml", "sidecar/"]
    for s in flat:
        assert (ROOT / s).exists(), s
        assert _dockerignore_allows(s.rstrip("/")), f".dockerignore excludes {s}"
    for secret_like in ("tests/conftest.py", ".venv/bin/python", ".tools/bin/opa", "records.jsonl",
                        "sidecar/__pycache__/x.pyc", ".git/config"):
        assert not _dockerignore_allows(secret_like), f".dockerignore lets {secret_like} into the context"


def test_builder_stage_builds_an_installable_wheel(tmp_path: Path) -> None:
    """`pip wheel` on a context holding only what the builder stage COPYs (as `docker build` would)."""
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    for c in dockerfile()[0].all("COPY"):
        *srcs, _dest = shlex.split(c)
        for s in srcs:
            src = ROOT / s
            if src.is_dir():
                for f in src.rglob("*"):
                    rel = f.relative_to(ROOT).as_posix()
                    if f.is_file() and _dockerignore_allows(rel):
                        (ctx / rel).parent.mkdir(parents=True, exist_ok=True)
                        (ctx / rel).write_bytes(f.read_bytes())
            else:
                (ctx / s).write_bytes(src.read_bytes())
    res = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"),
                          str(ctx)], capture_output=True, text=True, timeout=240)
    assert res.returncode == 0, res.stdout + res.stderr
    (wheel,) = (tmp_path / "dist").glob("wams_sidecar-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        entry = next(n for n in names if n.endswith("entry_points.txt"))
        assert "sidecar = sidecar.cli:main" in z.read(entry).decode()
    assert {"sidecar/cli.py", "sidecar/serve.py", "sidecar/devtools/upstream/app.py"} <= names


# ---- compose -------------------------------------------------------------------------------

def compose() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return doc


def check_jsonschema(path: Path) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).parent / "check-jsonschema"
    return subprocess.run([str(exe), "--builtin-schema", "vendor.compose-spec", str(path)],
                          capture_output=True, text=True, timeout=120)


def test_compose_file_matches_the_compose_spec() -> None:
    res = check_jsonschema(DEPLOY / "compose.yaml")
    assert res.returncode == 0, res.stdout + res.stderr


def test_compose_schema_check_rejects_a_bad_file(tmp_path: Path) -> None:
    bad = compose()
    bad["services"]["sidecar"]["restrat"] = "always"  # misspelt key
    (tmp_path / "compose.yaml").write_text(yaml.safe_dump(bad))
    assert check_jsonschema(tmp_path / "compose.yaml").returncode != 0


def test_compose_services() -> None:
    svc = compose()["services"]
    assert svc["opa"]["image"] == OPA_IMAGE
    assert svc["opa"]["network_mode"] == "service:sidecar"  # OPA on the sidecar's loopback only
    assert "--addr=127.0.0.1:8181" in svc["opa"]["command"]
    # OPA's bundle status for Prometheus on its read-only diagnostic port (OPA shares the
    # sidecar's network, hence the target sidecar:8282); not published on the host.
    assert "--diagnostic-addr=0.0.0.0:8282" in svc["opa"]["command"]
    scrape = yaml.safe_load((DEPLOY / "compose" / "prometheus.yml").read_text())["scrape_configs"]
    assert [t for j in scrape if j["job_name"] == "wams-opa" for sc in j["static_configs"] for t in sc["targets"]] \
        == ["sidecar:8282"]
    assert not [p for s in svc.values() for p in s.get("ports", []) if "8282" in str(p)]
    for name, s in svc.items():
        image = s.get("image", "")
        assert ":" in image and not image.endswith(":latest"), f"{name}: image {image!r} not pinned"
        for p in s.get("ports", []):
            assert str(p).startswith("127.0.0.1:"), f"{name}: port {p} must bind to loopback only"
    for name in ("sidecar", "opa"):
        s = svc[name]
        assert s["read_only"] is True and s["cap_drop"] == ["ALL"], name
        assert s["user"].split(":")[0] not in ("0", "root"), name
    assert set(svc["prometheus"]["profiles"]) == {"monitoring"} == set(svc["grafana"]["profiles"])
    # Every mounted file or folder that ships with the repo exists (secrets and build/ are made by the operator).
    for name, s in svc.items():
        for v in s.get("volumes", []):
            src = v.split(":")[0]
            if src.startswith(".") and "secrets" not in src and "build" not in src:
                assert (DEPLOY / src).exists(), f"{name}: {src} does not exist"


def test_compose_sidecar_config_is_valid(tmp_path: Path) -> None:
    """deploy/compose/config.yaml with the compose environment, paths moved into tmp."""
    s = compose()["services"]["sidecar"]
    mounts = {v.split(":")[1]: tmp_path / v.split(":")[1].lstrip("/") for v in s["volumes"]}
    mounts.update({t: tmp_path / t.lstrip("/") for t in s["tmpfs"]})
    for folder in mounts.values():
        folder.mkdir(parents=True, exist_ok=True)
    secrets = mounts["/run/secrets/wams-sidecar"]
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    pub = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    (secrets / "jwt-idp.pub.pem").write_bytes(pub.public_bytes(serialization.Encoding.PEM,
                                                               serialization.PublicFormat.SubjectPublicKeyInfo))
    (secrets / "pseudonym.key").write_text("0123456789abcdef0123456789abcdef")
    (secrets / "zgw-client-secret").write_text("placeholder-secret")
    (secrets / "bundle-signing.pub.pem").write_bytes(pub.public_bytes(serialization.Encoding.PEM,
                                                                      serialization.PublicFormat.SubjectPublicKeyInfo))
    pattern = re.compile("|".join(re.escape(m) for m in sorted(mounts, key=len, reverse=True)
                                  if m != "/etc/sidecar/config.yaml"))
    text = (DEPLOY / "compose" / "config.yaml").read_text()
    config = tmp_path / "config.yaml"
    config.write_text(pattern.sub(lambda m: str(mounts[m.group(0)]), text))
    env = {"SIDECAR_UPSTREAM__URL": "https://open-zaak.gemeente.example"}
    settings = load_settings(config, env=env)
    assert settings.upstream.url == "https://open-zaak.gemeente.example"
    assert settings.opa.url == "http://127.0.0.1:8181"
    assert settings.listen.admin_addr == ("0.0.0.0", 9180)
    assert settings.records.path.is_relative_to(mounts["/var/lib/wams-sidecar/records"])
    assert "${UPSTREAM_URL:?" in s["environment"]["SIDECAR_UPSTREAM__URL"]  # refuses to start without it
    # The in-process engine: the Wasm bundle from the compose bundle server (what OPA's
    # BUNDLE_SERVICE_URL names), verified with OPA's key, kept on a named volume.
    o = settings.opa
    svc = compose()["services"]
    assert o.engine == "wasm"
    assert o.wasm_bundle_url == svc["opa"]["environment"]["BUNDLE_SERVICE_URL"] + "/bundle-wasm.tar.gz"
    assert o.wasm_bundle == mounts["/var/lib/wams-sidecar/policy"] / "bundle-wasm.tar.gz"
    assert "policy" in compose()["volumes"]
    assert o.wasm_bundle_public_key == secrets / "bundle-signing.pub.pem"
    assert "./compose/secrets/bundle-signing.pub.pem:/etc/opa/keys/bundle-signing.pub.pem:ro" in svc["opa"]["volumes"]


@pytest.mark.parametrize("path", ["compose/prometheus.yml", "prometheus/prometheus.yml"])
def test_compose_prometheus_config(path: str) -> None:
    cfg = yaml.safe_load((DEPLOY / path).read_text())
    jobs = [j["job_name"] for j in cfg["scrape_configs"]]
    assert jobs == ["wams-sidecar", "wams-opa"]
    assert any(r.endswith("alerts.yaml") for r in cfg["rule_files"])
