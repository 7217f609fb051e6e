"""deploy/base: every built-in resource validates strictly offline; RBAC is least privilege; the
names the SparkApplication settings use exist in the kustomization."""
from __future__ import annotations

import copy
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from tests.shared_location import CHECKOUT

BASE = CHECKOUT / "deploy" / "base"
K8S_VERSIONS = ["1.28.0", "1.33.0"]  # oldest supported and current at the time of writing
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding"}


def build() -> list[dict]:
    """What ``kubectl apply -k deploy/base`` would apply, for the kustomize features the base uses
    (resources, namespace, labels, configMapGenerator files without hash suffix)."""
    kustomization = yaml.safe_load((BASE / "kustomization.yaml").read_text())
    allowed = {"apiVersion", "kind", "namespace", "labels", "resources", "configMapGenerator", "generatorOptions"}
    assert set(kustomization) <= allowed, f"kustomize features this test does not model: {set(kustomization) - allowed}"
    assert kustomization["generatorOptions"] == {"disableNameSuffixHash": True}
    docs = []
    for rel in kustomization["resources"]:
        docs += [d for d in yaml.safe_load_all((BASE / rel).read_text()) if d]
    for gen in kustomization.get("configMapGenerator", []):
        data = {Path(f).name: (BASE / f).read_text() for f in gen.get("files", [])}
        data.update(literal.split("=", 1) for literal in gen.get("literals", []))
        docs.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": gen["name"]}, "data": data})
    ns = kustomization["namespace"]
    labels = {k: v for entry in kustomization.get("labels", []) for k, v in entry["pairs"].items()}
    out = []
    for doc in docs:
        doc = copy.deepcopy(doc)
        meta = doc.setdefault("metadata", {})
        if doc["kind"] not in CLUSTER_SCOPED:
            meta["namespace"] = ns
        elif doc["kind"] == "Namespace":
            meta["name"] = ns
        meta["labels"] = {**meta.get("labels", {}), **labels}
        for subject in doc.get("subjects", []):
            if subject["kind"] == "ServiceAccount":
                subject.setdefault("namespace", ns)
        out.append(doc)
    return out


RESOURCES = build()


def find(kind: str, name: str | None = None) -> list[dict]:
    return [d for d in RESOURCES if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]


def one(kind: str, name: str) -> dict:
    (doc,) = find(kind, name)
    return doc


def test_every_file_of_the_base_is_used():
    kustomization = yaml.safe_load((BASE / "kustomization.yaml").read_text())
    used = set(kustomization["resources"]) | {f for g in kustomization["configMapGenerator"] for f in g.get("files", [])}
    present = {p.name for p in BASE.iterdir() if p.name != "kustomization.yaml"}
    assert used == present


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("doc", RESOURCES, ids=[f"{d['kind']}/{d['metadata']['name']}" for d in RESOURCES])
def test_resources_validate_strictly(doc, version):
    kubernetes_validate.validate(doc, version, strict=True)


def test_strict_validation_catches_a_misspelt_field():
    cron = copy.deepcopy(one("CronJob", "sparkeo-tracker"))
    cron["spec"]["concurrencypolicy"] = "Forbid"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(cron, K8S_VERSIONS[-1], strict=True)


def rules_of(role: str) -> set[tuple[str, str, str]]:
    return {(group, resource, verb) for rule in one("Role", role)["rules"]
            for group in rule["apiGroups"] for resource in rule["resources"] for verb in rule["verbs"]}


def test_tracker_may_only_get_list_and_delete_sparkapplications():
    assert rules_of("sparkeo-tracker") == {("sparkoperator.k8s.io", "sparkapplications", v)
                                          for v in ("get", "list", "delete")}


def test_driver_may_only_manage_its_pods_services_configmaps_and_pvcs():
    rules = rules_of("sparkeo-driver")
    assert {(g, r) for g, r, _ in rules} == {("", "pods"), ("", "services"), ("", "configmaps"),
                                             ("", "persistentvolumeclaims")}
    assert not any(v in ("*", "escalate", "bind", "impersonate") for _, _, v in rules)
    assert ("", "pods", "create") in rules and ("", "pods", "watch") in rules


def test_no_cluster_wide_permissions():
    assert not find("ClusterRole") and not find("ClusterRoleBinding")


@pytest.mark.parametrize("role", ["sparkeo-driver", "sparkeo-tracker"])
def test_roles_are_bound_to_their_service_account(role):
    binding = one("RoleBinding", role)
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": role, "namespace": "sparkeo"}]
    assert one("ServiceAccount", role)


def test_tracker_cronjob():
    cron = one("CronJob", "sparkeo-tracker")
    spec = cron["spec"]
    assert spec["schedule"] == "* * * * *" and spec["concurrencyPolicy"] == "Forbid"
    assert 0 < spec["startingDeadlineSeconds"] < 60
    pod = spec["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "sparkeo-tracker"
    (container,) = pod["containers"]
    assert container["command"] == ["sparkeo", "track"]
    assert set(container["resources"]["requests"]) == {"cpu", "memory"}
    env = {e["name"]: e for e in container["env"]}
    host, port = env["SPARKEO_ZOOKEEPER"]["value"].split(":")
    service = one("Service", host)
    assert int(port) in [p["port"] for p in service["spec"]["ports"]]
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        assert "value" not in env[var] and env[var]["valueFrom"]["secretKeyRef"]["name"] == "sparkeo-s3"
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    config_dir = str(Path(env["SPARKEO_DEPLOYMENT"]["value"]).parent)
    assert volumes[mounts[config_dir]]["configMap"]["name"] == "sparkeo-deployment"


def test_zookeeper_statefulset_and_services():
    sts = one("StatefulSet", "zookeeper")
    assert one("Service", sts["spec"]["serviceName"])["spec"]["clusterIP"] == "None"
    labels = sts["spec"]["template"]["metadata"]["labels"]
    assert sts["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert one("Service", "zookeeper")["spec"]["selector"].items() <= labels.items()
    assert sts["spec"]["volumeClaimTemplates"]


def test_deployment_settings_name_what_the_base_creates(shared_dir):
    from sparkapps import deployment, validate
    from sparkapps.manifest import JobSpec, render

    settings = deployment.from_mapping(yaml.safe_load(one("ConfigMap", "sparkeo-deployment")["data"]["deployment.yaml"]))
    assert settings.namespace == one("Namespace", "sparkeo")["metadata"]["name"]
    assert one("ServiceAccount", settings.service_account)
    assert one("RoleBinding", "sparkeo-driver")["subjects"][0]["name"] == settings.service_account
    assert one("ConfigMap", settings.catalog_configmap)["data"][settings.catalog_file]
    cron = one("CronJob", "sparkeo-tracker")
    assert cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["image"] == settings.image
    manifest = render(JobSpec(job_id="j-1", user="u", graph_uri="s3://b/g", output_uri="s3://b/o"), settings)
    schema = validate.load_schema(str(shared_dir / "spec/spark-operator/sparkoperator.k8s.io_sparkapplications.yaml"))
    assert validate.problems(manifest, schema) == []


def test_layer_catalog_configmap_loads():
    import json

    from layercatalog.catalog import LayerCatalog
    from sparkeo.identity import Caller

    text = one("ConfigMap", "sparkeo-layercatalog")["data"]["layercatalog.json"]
    catalog = LayerCatalog.load(str(BASE / "layercatalog.json"))
    assert [c.id for c in catalog.collections(Caller())] == [c["id"] for c in json.loads(text)]
    assert not catalog.unsupported


def test_deploy_catalog_example_searches_a_stac_api(stac_api, stac_api_catalog, tmp_path):
    """The shipped entry, its url set to a STAC API collection as deploy/README.md says, finds the items."""
    import json

    from layercatalog.catalog import LayerCatalog
    from layercatalog.query import make_query
    from sparkeo.identity import Caller
    from sparkeo.settings import Settings

    entries = json.loads((BASE / "layercatalog.json").read_text())
    entries[0]["_sparkeo"]["data_source"]["url"] = stac_api.collection_url("sample-s2")
    path = tmp_path / "layercatalog.json"
    path.write_text(json.dumps(entries))
    catalog = LayerCatalog.load(str(path), Settings(cache_dir=str(tmp_path / "cache")))
    items = catalog.search(make_query(entries[0]["id"], bands=["red", "scl"]), Caller())
    assert len(items) == 8 and all(set(i.assets) == {"B04", "SCL"} for i in items)


def test_api_may_only_create_get_and_delete_sparkapplications_and_read_driver_logs():
    assert rules_of("sparkeo-api") == {("sparkoperator.k8s.io", "sparkapplications", v) for v in ("create", "get", "delete")} \
        | {("", "pods", "get"), ("", "pods/log", "get")}
    binding = one("RoleBinding", "sparkeo-api")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "sparkeo-api", "namespace": "sparkeo"}]


def test_api_deployment_service_ingress_and_secrets():
    deployment = one("Deployment", "sparkeo-api")
    pod = deployment["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "sparkeo-api"
    (container,) = pod["containers"]
    assert container["command"][:4] == ["sparkeo", "serve", "--mode", "cluster"]
    port = container["ports"][0]
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["port"] == port["name"]
    env = {e["name"]: e for e in container["env"]}
    assert env["SPARKEO_API_TOKEN_SECRET"]["valueFrom"]["secretKeyRef"]["name"] == "sparkeo-api"
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    users_dir = str(Path(env["SPARKEO_API_USERS"]["value"]).parent)
    assert volumes[mounts[users_dir]]["secret"]["secretName"] == "sparkeo-api"
    catalog_dir = str(Path(env["SPARKEO_CATALOG"]["value"]).parent)
    assert volumes[mounts[catalog_dir]]["configMap"]["name"] == "sparkeo-layercatalog"
    assert not any("value" in env[v] for v in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"))
    service = one("Service", "sparkeo-api")
    assert service["spec"]["selector"].items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
    assert service["spec"]["ports"][0]["targetPort"] == port["name"]
    backend = one("Ingress", "sparkeo-api")["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": "sparkeo-api", "port": {"name": "http"}}
