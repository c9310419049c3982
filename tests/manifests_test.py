#!/usr/bin/env python3
"""Static checks of the deployment files: the Kubernetes manifests (infra/k8s: the ScaledJob
default and the Deployment variant, rendered as kustomize renders them), the monitoring files
(alert rules through promtool, the dashboard, the PodMonitor), the compose file and the
Containerfile parse, name the expected objects, and agree with each other and with the worker's
settings: grace periods that cover the job timeout, no replicas under KEDA, the backlog for long-
lived workers, requests = limits sized for MAX_FRAME_PIXELS, restricted pod security, probes,
NetworkPolicy egress, the token as a mounted file.

Results are printed in GoogleTest's format so scripts/gtest_summary.py counts them with the rest.
Needs PyYAML (Debian's python3-yaml; scripts/deps.sh installs it)."""
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "infra" / "k8s"
MONITORING = K8S / "monitoring"
NAMESPACE = "renderer"
SECRET = "renderer-api-token"
# The kustomizations an operator applies: the default (ScaledJob), the Deployment variant, and
# that Deployment without shared volumes (jobs by URL, DESIGN §4.1).
VARIANTS = {"scaledjob": K8S, "deployment": K8S / "deployment",
            "object-storage": K8S / "object-storage"}
SHARED_VOLUME_VARIANTS = {"scaledjob", "deployment"}
S3_SECRET = "renderer-s3-credentials"


def load_all(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def kustomize(directory):
    """Renders a kustomization the way `kubectl kustomize` does, for the features these files use:
    resources (files and directories), namespace, images, configMapGenerator (literals, files,
    disableNameSuffixHash) and replacements with delimiter/index. KustomizeRendering compares the
    result with kubectl's own where kubectl is installed."""
    k = load_all(directory / "kustomization.yaml")[0]
    objects = []
    for resource in k.get("resources", []):
        path = (directory / resource).resolve()
        objects += kustomize(path) if path.is_dir() else load_all(path)
    for gen in k.get("configMapGenerator", []):
        data = {}
        for literal in gen.get("literals", []):
            key, _, value = literal.partition("=")
            data[key] = value.split("  #")[0].strip()
        for file in gen.get("files", []):
            data[Path(file).name] = (directory / file).read_text(encoding="utf-8")
        meta = {"name": gen["name"]}
        labels = gen.get("options", {}).get("labels")
        if labels:
            meta["labels"] = dict(labels)
        objects.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data})
    namespace = k.get("namespace")
    for obj in objects:
        if namespace and obj["kind"] not in ("Namespace", "PersistentVolume"):
            obj["metadata"]["namespace"] = namespace
    for image in k.get("images", []):
        for obj in objects:
            for container in pod_spec_of(obj).get("containers", []) if pod_spec_of(obj) else []:
                name, _, _ = container["image"].partition(":")
                if name == image["name"]:
                    container["image"] = f"{image['newName']}:{image['newTag']}"
    for rep in k.get("replacements", []):
        src = rep["source"]
        [source] = [o for o in objects
                    if o["kind"] == src["kind"] and o["metadata"]["name"] == src["name"]]
        value = get_path(source, src["fieldPath"])
        for target in rep["targets"]:
            sel = target["select"]
            for obj in objects:
                if obj["kind"] != sel["kind"] or obj["metadata"]["name"] != sel["name"]:
                    continue
                for field in target["fieldPaths"]:
                    old = get_path(obj, field)
                    opts = target.get("options", {})
                    if "delimiter" in opts:
                        parts = old.split(opts["delimiter"])
                        parts[opts.get("index", 0)] = value
                        value_here = opts["delimiter"].join(parts)
                    else:
                        value_here = value
                    set_path(obj, field, value_here)
    return objects


def get_path(obj, path):
    for part in path.split("."):
        obj = obj[int(part)] if isinstance(obj, list) else obj[part]
    return obj


def set_path(obj, path, value):
    *parents, last = path.split(".")
    for part in parents:
        obj = obj[int(part)] if isinstance(obj, list) else obj[part]
    obj[int(last) if isinstance(obj, list) else last] = value


def by_key(objects):
    return {(o["kind"], o["metadata"]["name"]): o for o in objects}


def pod_spec_of(obj):
    """The pod template's spec of a workload (Deployment, ScaledJob), else None."""
    if obj.get("kind") == "Deployment":
        return obj["spec"]["template"]["spec"]
    if obj.get("kind") == "ScaledJob":
        return obj["spec"]["jobTargetRef"]["template"]["spec"]
    return None


def pod_labels_of(obj):
    if obj["kind"] == "Deployment":
        return obj["spec"]["template"]["metadata"]["labels"]
    return obj["spec"]["jobTargetRef"]["template"]["metadata"]["labels"]


def seconds(text):
    """Compose durations: 45s, 1m30s, 2m, or a bare number of seconds."""
    if isinstance(text, (int, float)):
        return float(text)
    parts = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?", str(text))
    assert parts and any(parts.groups()), f"unreadable duration {text!r}"
    h, m, s = (int(g or 0) for g in parts.groups())
    return h * 3600 + m * 60 + s


def quantity(text):
    """Kubernetes quantities: 3, 500m, 3Gi, 12Gi, 2G."""
    m = re.fullmatch(r"([0-9.]+)(m|Ki|Mi|Gi|Ti|k|M|G|T)?", str(text))
    assert m, f"unreadable quantity {text!r}"
    scale = {None: 1, "m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40,
             "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}[m.group(2)]
    return float(m.group(1)) * scale


def env_of(container):
    return {e["name"]: e for e in container.get("env", [])}


def env_value(container, name):
    entry = env_of(container)[name]
    assert "value" in entry, f"{name} has no literal value"
    return str(entry["value"])


def port_of(addr):
    return int(addr.rsplit(":", 1)[1])


class Variant:
    """One rendered kustomization and its worker workload."""

    def __init__(self, name):
        self.name = name
        self.objects = kustomize(VARIANTS[name])
        self.by_key = by_key(self.objects)
        [self.workload] = [o for o in self.objects if pod_spec_of(o) is not None]
        self.pod = pod_spec_of(self.workload)
        self.container = {c["name"]: c for c in self.pod["containers"]}["renderer"]
        self.api_base_url = self.by_key[("ConfigMap", "renderer-api")]["data"]["API_BASE_URL"]


class KubernetesManifests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.variants = [Variant(name) for name in VARIANTS]

    def each(self):
        for v in self.variants:
            with self.subTest(variant=v.name):
                yield v

    def test_expected_objects_in_one_namespace(self):
        for v in self.each():
            for key in [("Namespace", NAMESPACE), ("TriggerAuthentication", "renderer-api-auth"),
                        ("ConfigMap", "renderer-api"), ("NetworkPolicy", "renderer")]:
                self.assertIn(key, v.by_key)
            if v.name in SHARED_VOLUME_VARIANTS:
                self.assertIn(("PersistentVolumeClaim", "renderer-content"), v.by_key)
                self.assertIn(("PersistentVolumeClaim", "renderer-output"), v.by_key)
            for (kind, name), doc in v.by_key.items():
                if kind not in ("Namespace", "PersistentVolume"):
                    self.assertEqual(doc["metadata"].get("namespace"), NAMESPACE, f"{kind}/{name}")
            # The example Secrets hold placeholders: they must never be applied by accident.
            self.assertNotIn(("Secret", SECRET), v.by_key)
            self.assertNotIn(("Secret", S3_SECRET), v.by_key)
            self.assertTrue(v.container["image"].startswith("registry.example.com/renderer:"))
        secret = load_all(K8S / "secret.example.yaml")[0]
        self.assertIn("token", secret.get("stringData", secret.get("data", {})))

    def test_default_path_is_a_scaledjob_of_workers_that_exit_when_idle(self):
        # Issue 18.1: one Kubernetes Job per queued job, never a scale-down victim.
        v = Variant("scaledjob")
        self.assertEqual(v.workload["kind"], "ScaledJob")
        spec = v.workload["spec"]
        self.assertIn("--exit-when-idle", v.container["args"])
        self.assertIn("worker", v.container["args"])
        self.assertEqual(v.pod["restartPolicy"], "Never")
        self.assertEqual(spec["jobTargetRef"].get("backoffLimit"), 0)
        self.assertNotIn("activeDeadlineSeconds", spec["jobTargetRef"],
                         "a deadline would kill a worker mid-render")
        self.assertEqual(spec["rollout"]["strategy"], "gradual",
                         "the default rollout deletes running Jobs")
        self.assertEqual(spec["scalingStrategy"]["strategy"], "accurate",
                         "queue_depth leaves out claimed jobs")
        [trigger] = spec["triggers"]
        self.assertEqual(trigger["metadata"]["valueLocation"], "queue_depth")
        self.assertEqual(trigger["metadata"]["targetValue"],
                         env_value(v.container, "MAX_CONCURRENT"))
        self.assertEqual(env_value(v.container, "MAX_CONCURRENT"), "1")

    def test_deployment_variant_scales_on_the_backlog_with_a_fallback(self):
        v = Variant("deployment")
        scaled = v.by_key[("ScaledObject", "renderer")]["spec"]
        self.assertEqual(scaled["scaleTargetRef"]["name"], v.workload["metadata"]["name"])
        [trigger] = scaled["triggers"]
        self.assertEqual(trigger["metadata"]["valueLocation"], "backlog",
                         "queue_depth drops to 0 while every worker is busy")
        self.assertEqual(trigger.get("metricType"), "AverageValue")
        self.assertGreaterEqual(scaled["fallback"]["replicas"], 1)
        self.assertGreaterEqual(scaled["fallback"]["failureThreshold"], 1)
        self.assertLessEqual(scaled["minReplicaCount"], scaled["maxReplicaCount"])

    def test_object_storage_variant_needs_no_shared_volume(self):
        # Issue 15: workers without ReadWriteMany claims; credentials from a Secret, as files.
        v = Variant("object-storage")
        self.assertEqual(v.workload["kind"], "Deployment")
        kinds = {kind for kind, _ in v.by_key}
        self.assertFalse(kinds & {"PersistentVolumeClaim", "PersistentVolume"}, kinds)
        self.assertIn("ScaledObject", kinds)
        self.assertIn("PodDisruptionBudget", kinds)
        for volume in v.pod["volumes"]:
            self.assertTrue({"emptyDir", "secret"} & set(volume), volume["name"])
        mounts = {m["mountPath"]: m for m in v.container["volumeMounts"]}
        volumes = {vol["name"]: vol for vol in v.pod["volumes"]}
        tmp = volumes[mounts[env_value(v.container, "TMP_DIR")]["name"]]
        # One job's downloads (a .tar and its frames side by side) and the render fit the
        # emptyDir, which fits the pod's ephemeral storage.
        max_bytes = quantity(env_value(v.container, "STORAGE_MAX_BYTES"))
        size = quantity(tmp["emptyDir"]["sizeLimit"])
        self.assertGreaterEqual(size, 2 * max_bytes)
        self.assertLessEqual(size, quantity(v.container["resources"]["limits"]["ephemeral-storage"]))
        env = env_of(v.container)
        for name in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"]:
            self.assertNotIn(name, env, "credentials are mounted files, never env values")
        [secret] = [vol for vol in v.pod["volumes"]
                    if vol.get("secret", {}).get("secretName") == S3_SECRET]
        mount = [m for m in v.container["volumeMounts"] if m["name"] == secret["name"]][0]
        self.assertTrue(mount.get("readOnly"))
        items = {i["path"]: i["key"] for i in secret["secret"]["items"]}
        example = load_all(K8S / "object-storage" / "s3-secret.example.yaml")[0]
        for name in ["AWS_ACCESS_KEY_ID_FILE", "AWS_SECRET_ACCESS_KEY_FILE"]:
            path = Path(env_value(v.container, name))
            key = items[str(path.relative_to(mount["mountPath"]))]
            self.assertIn(key, example["stringData"])
        self.assertRegex(env_value(v.container, "AWS_REGION"), r"^[a-z]+-[a-z]+-\d$")
        policy = v.by_key[("NetworkPolicy", "renderer")]["spec"]
        self.assertIn(443, [p["port"] for r in policy["egress"] for p in r["ports"]],
                      "the store is reached on 443")

    def test_keda_managed_objects_have_no_replicas(self):
        # Every `kubectl apply` reset the fleet to `replicas:` under KEDA.
        for v in self.each():
            for obj in v.objects:
                if obj["kind"] == "ScaledObject":
                    target = v.by_key[(obj["spec"]["scaleTargetRef"]["kind"],
                                       obj["spec"]["scaleTargetRef"]["name"])]
                    self.assertNotIn("replicas", target["spec"], target["metadata"]["name"])
            self.assertNotIn("replicas", v.workload["spec"])

    def test_triggers_ask_the_api_the_workers_use_with_their_token(self):
        for v in self.each():
            scaler = [o for o in v.objects if o["kind"] in ("ScaledJob", "ScaledObject")]
            self.assertEqual(len(scaler), 1)
            [trigger] = scaler[0]["spec"]["triggers"]
            meta = trigger["metadata"]
            self.assertEqual(trigger["type"], "metrics-api")
            self.assertTrue(meta["url"].startswith(v.api_base_url.rstrip("/") +
                                                   "/api/render-jobs?"), meta["url"])
            self.assertIn("status=queued", meta["url"])
            self.assertEqual(meta["authMode"], "bearer")
            auth = v.by_key[("TriggerAuthentication", trigger["authenticationRef"]["name"])]
            refs = {r["parameter"]: r for r in auth["spec"]["secretTargetRef"]}
            self.assertEqual(refs["token"]["name"], SECRET)
            self.assertEqual(refs["token"]["key"], "token")

    def test_the_api_address_is_written_once(self):
        # Issue 18.5: the workers' API_BASE_URL and KEDA's trigger URL come from one literal.
        literals = []
        for path in K8S.rglob("*.yaml"):
            literals += re.findall(r"job-api\.renderer\.svc\.cluster\.local", path.read_text())
        kustomization = (K8S / "base" / "kustomization.yaml").read_text()
        self.assertIn("API_BASE_URL=", kustomization)
        for v in self.each():
            entry = env_of(v.container)["API_BASE_URL"]
            self.assertEqual(entry["valueFrom"]["configMapKeyRef"],
                             {"name": "renderer-api", "key": "API_BASE_URL"})
        # The literal, and in each trigger's URL the placeholder the replacement overwrites.
        rendered = Variant("scaledjob")
        changed = json.loads(json.dumps(load_all(K8S / "base" / "kustomization.yaml")[0]))
        self.assertEqual(len(changed["configMapGenerator"][0]["literals"]), 1)
        self.assertTrue(rendered.api_base_url.startswith("http"))

    def test_termination_grace_covers_the_job_timeout(self):
        # Issue 18.1: SHUTDOWN_GRACE_SEC=300 < JOB_TIMEOUT_SEC=1800 cancelled every long render
        # a scale-down or drain hit.
        for v in self.each():
            timeout = int(env_value(v.container, "JOB_TIMEOUT_SEC"))
            lease = int(env_value(v.container, "LEASE_SECONDS"))
            grace = int(env_value(v.container, "SHUTDOWN_GRACE_SEC"))
            self.assertGreaterEqual(grace, timeout + lease,
                                    "a render past its timeout needs a lease to report")
            self.assertGreater(v.pod["terminationGracePeriodSeconds"], grace)

    def test_disruption_budget_paces_drains_and_allows_unhealthy_evictions(self):
        v = Variant("deployment")
        [pdb] = [o for o in v.objects if o["kind"] == "PodDisruptionBudget"]
        spec = pdb["spec"]
        # /readyz fails on every pod while the API is down: without AlwaysAllow no drain could
        # proceed until the API came back.
        self.assertEqual(spec["unhealthyPodEvictionPolicy"], "AlwaysAllow")
        self.assertGreaterEqual(spec.get("maxUnavailable", 0), 1, "0 would block drains for good")
        for key, value in spec["selector"]["matchLabels"].items():
            self.assertEqual(pod_labels_of(v.workload).get(key), value)

    def test_network_policy_limits_ingress_and_egress(self):
        for v in self.each():
            policy = v.by_key[("NetworkPolicy", "renderer")]["spec"]
            for key, value in policy["podSelector"]["matchLabels"].items():
                self.assertEqual(pod_labels_of(v.workload).get(key), value)
            self.assertEqual(set(policy["policyTypes"]), {"Ingress", "Egress"})
            metrics_port = port_of(env_value(v.container, "METRICS_ADDR"))
            for rule in policy["ingress"]:
                self.assertTrue(rule.get("from"), "every rule names who may connect")
                self.assertEqual([p["port"] for p in rule["ports"]], [metrics_port])
            egress = policy["egress"]
            for rule in egress:
                self.assertTrue(rule.get("to"), "an egress rule without `to` allows everywhere")
                self.assertTrue(rule.get("ports"), "every egress rule names its ports")
            dns = {(p.get("protocol", "TCP"), p["port"]) for r in egress for p in r["ports"]
                   if p["port"] == 53}
            self.assertEqual(dns, {("UDP", 53), ("TCP", 53)})
            api_port = int(re.match(r"https?://[^/:]+(?::(\d+))?", v.api_base_url).group(1)
                           or (443 if v.api_base_url.startswith("https") else 80))
            self.assertIn(api_port, [p["port"] for r in egress for p in r["ports"]])

    def test_probes_startup_liveness_readiness(self):
        for v in self.each():
            c = v.container
            port = port_of(env_value(c, "METRICS_ADDR"))
            self.assertEqual({p["name"]: p["containerPort"] for p in c["ports"]}["metrics"], port)
            for probe, path in [("startupProbe", "/livez"), ("livenessProbe", "/livez"),
                                ("readinessProbe", "/readyz")]:
                self.assertEqual(c[probe]["httpGet"]["path"], path)
                self.assertIn(c[probe]["httpGet"]["port"], ("metrics", port))
            # The first sweep of a slow NFS share must not trip liveness: minutes, not seconds.
            startup = c["startupProbe"]
            self.assertGreaterEqual(startup["periodSeconds"] * startup["failureThreshold"], 120)
            self.assertTrue(env_value(c, "METRICS_ADDR").startswith("0.0.0.0:"),
                            "the kubelet probes the pod IP, not loopback")

    def test_restricted_pod_security(self):
        namespace = load_all(K8S / "base" / "namespace.yaml")[0]
        self.assertEqual(namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"],
                         "restricted")
        for v in self.each():
            pod_ctx = v.pod["securityContext"]
            ctx = v.container["securityContext"]
            self.assertTrue(pod_ctx.get("runAsNonRoot"))
            self.assertNotEqual(pod_ctx.get("runAsUser"), 0)
            self.assertEqual(pod_ctx["seccompProfile"]["type"], "RuntimeDefault")
            self.assertIs(ctx.get("readOnlyRootFilesystem"), True)
            self.assertIs(ctx.get("allowPrivilegeEscalation"), False)
            self.assertEqual(ctx["capabilities"]["drop"], ["ALL"])
            self.assertNotIn("add", ctx["capabilities"])
            self.assertEqual(pod_ctx.get("fsGroupChangePolicy"), "OnRootMismatch")
            allowed = {"persistentVolumeClaim", "emptyDir", "secret", "configMap", "projected",
                       "downwardAPI", "ephemeral", "csi", "name"}
            for volume in v.pod["volumes"]:
                self.assertLessEqual(set(volume), allowed, volume["name"])
            self.assertFalse(v.pod.get("automountServiceAccountToken", True))

    def test_guaranteed_qos_sized_for_the_frame_limit(self):
        for v in self.each():
            res = v.container["resources"]
            for what in ["cpu", "memory", "ephemeral-storage"]:
                self.assertEqual(quantity(res["requests"][what]), quantity(res["limits"][what]),
                                 f"requests = limits ({what}): Guaranteed QoS")
            # docs/PERFORMANCE.md: peak RSS ~ 100 MiB + 200 bytes per pixel; keep a quarter free.
            pixels = int(env_value(v.container, "MAX_FRAME_PIXELS"))
            peak = 100 * 2**20 + 200 * pixels
            self.assertLessEqual(peak, 0.75 * quantity(res["limits"]["memory"]))
            self.assertGreaterEqual(quantity(res["limits"]["cpu"]), 3, "X264_THREADS is 3")
            spread = v.pod["topologySpreadConstraints"]
            self.assertTrue(spread)
            for key, value in spread[0]["labelSelector"]["matchLabels"].items():
                self.assertEqual(pod_labels_of(v.workload).get(key), value)

    def test_token_is_the_secret_mounted_as_a_file(self):
        for v in self.each():
            env = env_of(v.container)
            self.assertNotIn("API_AUTH_TOKEN", env, "the token is a mounted file, never an env var")
            token_file = Path(env_value(v.container, "API_AUTH_TOKEN_FILE"))
            mounts = {m["name"]: m for m in v.container["volumeMounts"]}
            [volume] = [vol for vol in v.pod["volumes"]
                        if vol.get("secret", {}).get("secretName") == SECRET]
            mount = mounts[volume["name"]]
            self.assertTrue(mount.get("readOnly"))
            items = {i["path"]: i["key"] for i in volume["secret"].get("items", [])}
            self.assertEqual(items.get(str(token_file.relative_to(mount["mountPath"]))), "token")

    def test_writable_volumes_for_tmp_and_output_on_static_volumes(self):
        for v in self.each():
            mounts = {m["mountPath"]: m for m in v.container["volumeMounts"]}
            volumes = {vol["name"]: vol for vol in v.pod["volumes"]}
            for name in ["TMP_DIR", "OUTPUT_DIR"]:
                path = env_value(v.container, name)
                self.assertIn(path, mounts, f"{name} {path} must be a volume: the root is read-only")
                self.assertFalse(mounts[path].get("readOnly", False), name)
            self.assertTrue(mounts[env_value(v.container, "CONTENT_DIR")].get("readOnly"))
            # Issue 18.3: claims bound to static volumes on the existing share, never left Pending
            # for want of a storage class.
            for claim in [o for o in v.objects if o["kind"] == "PersistentVolumeClaim"]:
                spec = claim["spec"]
                self.assertEqual(spec.get("storageClassName"), "", claim["metadata"]["name"])
                pv = v.by_key[("PersistentVolume", spec["volumeName"])]["spec"]
                self.assertEqual(pv["claimRef"]["name"], claim["metadata"]["name"])
                self.assertEqual(pv["claimRef"]["namespace"], NAMESPACE)
                self.assertEqual(pv["storageClassName"], "")
                self.assertEqual(pv["persistentVolumeReclaimPolicy"], "Retain")
                self.assertEqual(set(pv["accessModes"]), set(spec["accessModes"]))


class KustomizeRendering(unittest.TestCase):
    """Our rendering (above) against kubectl's, where kubectl is installed (the CI machine image
    has it; a fresh Debian chroot does not, and reports the test skipped)."""

    def test_matches_kubectl_kustomize(self):
        kubectl = shutil.which("kubectl")
        if not kubectl:
            self.skipTest("kubectl is not installed")
        for name, directory in list(VARIANTS.items()) + [("monitoring", MONITORING)]:
            with self.subTest(variant=name):
                out = subprocess.run([kubectl, "kustomize", str(directory)], check=True,
                                     capture_output=True, text=True).stdout
                theirs = by_key([d for d in yaml.safe_load_all(out) if d])
                ours = by_key(kustomize(directory))
                self.assertEqual(set(theirs), set(ours))
                for key in ours:
                    self.assertEqual(theirs[key], ours[key], key)


class Monitoring(unittest.TestCase):
    def test_prometheus_rule_carries_the_tested_rules(self):
        rules = load_all(MONITORING / "alerts.yaml")[0]["groups"]
        crd = load_all(MONITORING / "prometheusrule.yaml")[0]
        self.assertEqual(crd["spec"]["groups"], rules, "copy alerts.yaml's groups")

    def test_promtool_checks_and_unit_tests_the_rules(self):
        promtool = shutil.which("promtool")
        self.assertTrue(promtool, "promtool (Debian's prometheus package) is a test dependency")
        subprocess.run([promtool, "check", "rules", "alerts.yaml"], cwd=MONITORING, check=True,
                       capture_output=True)
        r = subprocess.run([promtool, "test", "rules", "alerts_test.yaml"], cwd=MONITORING,
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_dashboard_and_rules_use_metrics_the_worker_exports(self):
        source = (ROOT / "src" / "worker" / "metrics.cpp").read_text(encoding="utf-8")
        exported = set(re.findall(r'"(renderer_[a-z_]+)"', source))
        exported |= {n + suffix for n in exported for suffix in ("_bucket", "_sum", "_count")}
        dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
        exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
        exprs += [r["expr"] for g in load_all(MONITORING / "alerts.yaml")[0]["groups"]
                  for r in g["rules"]]
        used = {m for e in exprs for m in re.findall(r"\b(renderer_[a-z_]+)", e)}
        self.assertTrue(used)
        self.assertLessEqual(used, exported, used - exported)
        for e in exprs:
            self.assertNotRegex(e, r"sum\s*(by\s*\([^)]*\)\s*)?\(\s*renderer_queue_depth",
                                "renderer_queue_depth is global: max(), not sum()")

    def test_pod_monitor_scrapes_the_workers(self):
        monitor = load_all(MONITORING / "podmonitor.yaml")[0]
        labels = pod_labels_of(Variant("scaledjob").workload)
        for key, value in monitor["spec"]["selector"]["matchLabels"].items():
            self.assertEqual(labels.get(key), value)
        self.assertEqual(monitor["spec"]["podMetricsEndpoints"][0]["port"], "metrics")

    def test_scaledjob_workers_wait_for_a_scrape_of_their_last_counts(self):
        # A ScaledJob's worker exits one poll after its last job; without waiting for a scrape
        # its outcome counters are gone before Prometheus reads them (the alerts go blind).
        monitor = load_all(MONITORING / "podmonitor.yaml")[0]
        interval = monitor["spec"]["podMetricsEndpoints"][0]["interval"]
        self.assertRegex(interval, r"^\d+s$")
        v = Variant("scaledjob")
        wait = int(env_value(v.container, "FINAL_SCRAPE_WAIT_SEC"))
        self.assertGreaterEqual(wait, 2 * int(interval[:-1]), "one missed scrape is allowed for")
        self.assertLess(wait, int(env_value(v.container, "SHUTDOWN_GRACE_SEC")))


class ComposeFile(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.compose = load_all(ROOT / "infra" / "docker-compose.yml")[0]
        cls.services = cls.compose["services"]

    def test_services_build_from_the_containerfile(self):
        self.assertEqual(set(self.services), {"api", "renderer", "s3", "api-s3", "renderer-s3"})
        for name, service in self.services.items():
            self.assertEqual(service["build"]["context"], "..", name)
            self.assertEqual(service["build"]["dockerfile"], "Containerfile", name)
        self.assertEqual(self.services["api"]["build"]["target"], "devapi")
        self.assertEqual(self.services["api-s3"]["build"]["target"], "devapi")
        self.assertNotIn("target", self.services["renderer"]["build"], "production = default")
        self.assertNotIn("target", self.services["renderer-s3"]["build"], "production = default")
        stages = re.findall(r"^FROM \S+ AS (\S+)", (ROOT / "Containerfile").read_text(), re.M)
        self.assertEqual(self.services["s3"]["build"]["target"], "s3rver")
        self.assertIn("s3rver", stages)
        self.assertEqual(stages[-1], "renderer", "the last stage is the default build target")

    def test_profile_s3_runs_a_worker_without_shared_volumes(self):
        # Issue 15: s3rver as the store, the API seeding it, a worker that mounts nothing.
        s3, api, worker = (self.services[n] for n in ["s3", "api-s3", "renderer-s3"])
        for name in ["s3", "api-s3", "renderer-s3"]:
            self.assertEqual(self.services[name].get("profiles"), ["s3"], name)
        for name in ["api", "renderer"]:
            self.assertNotIn("profiles", self.services[name], f"{name} runs by default")
        command = s3["command"]
        bucket = command[command.index("--configure-bucket") + 1]
        port = command[command.index("--port") + 1]
        self.assertEqual(api["depends_on"]["s3"]["condition"], "service_healthy")
        self.assertTrue(s3["healthcheck"]["test"])
        self.assertIn("api-s3", worker["depends_on"])
        seed = api["command"][api["command"].index("--seed-bucket") + 1]
        self.assertTrue(seed.startswith(f"s3://{bucket}/"), seed)
        music = api["command"][api["command"].index("--seed-music") + 1]
        self.assertTrue(music.startswith("/content/"), music)
        self.assertTrue((ROOT / "testdata" / "audio" / "music" / Path(music).name).is_file(),
                        "infra/local-setup.sh copies testdata's music into ./content")
        for service in [api, worker]:
            env = service["environment"]
            self.assertEqual(env["AWS_ENDPOINT_URL"], f"http://s3:{port}")
            self.assertIn(bucket, env["STORAGE_ALLOWED_HOSTS"].split(","))
            self.assertTrue(env["AWS_ACCESS_KEY_ID"] and env["AWS_SECRET_ACCESS_KEY"])
        env = worker["environment"]
        self.assertEqual(env["API_BASE_URL"], "http://api-s3:8080")
        self.assertNotIn("volumes", worker, "the worker shares no volume with anyone")
        # CONTENT_DIR and OUTPUT_DIR are the image's own directories, owned by the worker's uid;
        # a tmpfs there would be root's 0755 under podman 4.3 (mode= is ignored) and the worker
        # would exit 78 at start.
        self.assertNotIn("tmpfs", worker, "nothing is mounted over the image's own dirs")
        made = re.search(r"install -d -o 10001 -g 10001 -m 0755 ([^\n]*)",
                         (ROOT / "Containerfile").read_text())
        self.assertTrue(made, "the Containerfile creates the worker's directories")
        for name in ["CONTENT_DIR", "OUTPUT_DIR", "TMP_DIR"]:
            self.assertIn(env[name], made.group(1).split(), f"{name} is made by the image")
        self.assertEqual(env["API_AUTH_TOKEN_FILE"], "/run/secrets/api_token")
        self.assertGreater(seconds(worker["stop_grace_period"]), int(env["SHUTDOWN_GRACE_SEC"]))

    def test_renderer_env_and_mounts_follow_the_spec(self):
        renderer = self.services["renderer"]
        env = renderer["environment"]
        # The reference API by default; a real one with API_BASE_URL (and `run --no-deps`).
        self.assertEqual(env["API_BASE_URL"], "${API_BASE_URL:-http://api:8080}")
        for name, value in [("CONTENT_DIR", "/content"), ("MUSIC_DIR", "/content/audio/music"),
                            ("OUTPUT_DIR", "/output"), ("TMP_DIR", "/tmp/renderer")]:
            self.assertEqual(env[name], value)
        self.assertNotIn("API_AUTH_TOKEN", env)
        self.assertEqual(env["API_AUTH_TOKEN_FILE"], "/run/secrets/api_token")
        self.assertIn("api_token", renderer["secrets"])
        mounts = {}
        for volume in renderer["volumes"]:
            m = re.fullmatch(r"(\$\{[^}]*\}|[^:]+):([^:]+)(?::(\w+))?", volume)
            self.assertTrue(m, volume)
            mounts[m.group(2)] = (m.group(1), m.group(3))
        self.assertIn("./content", mounts["/content"][0])
        self.assertEqual(mounts["/content"][1], "ro")
        self.assertIn("./output", mounts["/output"][0])
        self.assertIn("--json-logs", renderer["command"])

    def test_stop_grace_period_exceeds_shutdown_grace(self):
        renderer = self.services["renderer"]
        grace = int(renderer["environment"]["SHUTDOWN_GRACE_SEC"])
        self.assertGreater(seconds(renderer["stop_grace_period"]), grace)

    def test_healthcheck_log_rotation_and_limits(self):
        # Issue 18.7: podman builds OCI images, which drop HEALTHCHECK: the file carries it.
        renderer = self.services["renderer"]
        self.assertEqual(renderer["healthcheck"]["test"], ["CMD", "renderer", "healthcheck"])
        self.assertGreater(seconds(renderer["healthcheck"]["start_period"]), 0)
        for name, service in self.services.items():
            logging = service["logging"]
            self.assertEqual(logging["driver"], "json-file", name)
            self.assertTrue(logging["options"]["max-size"], name)
            self.assertTrue(logging["options"]["max-file"], name)
            limits = service["deploy"]["resources"]["limits"]
            self.assertGreater(quantity(limits["memory"].replace("g", "Gi").replace("m", "Mi")), 0)
            self.assertGreater(float(limits["cpus"]), 0)
        limit = quantity(renderer["deploy"]["resources"]["limits"]["memory"].replace("g", "Gi"))
        self.assertGreaterEqual(limit, 100 * 2**20 + 200 * 3840 * 2160,
                                "the renderer's limit holds a render at MAX_FRAME_PIXELS")

    def test_api_is_seeded_from_the_same_content(self):
        api = self.services["api"]
        command = api["command"]
        self.assertEqual(command[command.index("--seed-stories") + 1], "/content/stories")
        self.assertEqual(command[command.index("--token-file") + 1], "/run/secrets/api_token")
        self.assertEqual(command[command.index("--port") + 1], "8080")
        self.assertIn("api", self.services["renderer"]["depends_on"])
        self.assertIn("api_token", self.compose["secrets"])

    def test_local_setup_writes_the_token_0600(self):
        with tempfile.TemporaryDirectory() as tmp:
            env = dict(os.environ, RENDERER_CONTENT_DIR=f"{tmp}/content",
                       RENDERER_OUTPUT_DIR=f"{tmp}/output",
                       RENDERER_API_TOKEN_FILE=f"{tmp}/secrets/api_token")
            subprocess.run([str(ROOT / "infra" / "local-setup.sh")], env=env, check=True,
                           capture_output=True)
            st = os.stat(f"{tmp}/secrets/api_token")
            self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
            if os.geteuid() == 0:
                self.assertEqual((st.st_uid, st.st_gid), (10001, 10001), "the containers' user")
            self.assertGreaterEqual(st.st_size, 32)


class Containerfile(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        text = (ROOT / "Containerfile").read_text(encoding="utf-8")
        # Instructions with their continuation lines joined, comments dropped.
        text = re.sub(r"\\\n", " ", "\n".join(
            line for line in text.splitlines() if not line.lstrip().startswith("#")))
        cls.instructions = [line.strip() for line in text.splitlines() if line.strip()]
        last_from = max(i for i, line in enumerate(cls.instructions) if line.startswith("FROM "))
        cls.final = cls.instructions[last_from:]
        first_from = next(i for i, line in enumerate(cls.instructions) if line.startswith("FROM "))
        cls.global_args = dict(line[4:].strip().partition("=")[::2]
                               for line in cls.instructions[:first_from]
                               if line.startswith("ARG "))

    def final_stage(self, keyword):
        return [line[len(keyword) + 1:].strip() for line in self.final
                if line.startswith(keyword + " ")]

    def test_debian_13_stages_debian_12_by_build_arg_base_pinned_by_date(self):
        self.assertEqual(self.global_args.get("DEBIAN_SUITE"), "trixie", self.global_args)
        self.assertRegex(self.global_args.get("DEBIAN_DATE", ""), r"^20\d{6}$", "a dated tag")
        froms = [line for line in self.instructions if line.startswith("FROM docker.io")]
        self.assertTrue(froms)
        for f in froms:
            self.assertIn("debian:${DEBIAN_SUITE}-${DEBIAN_DATE}", f, "every base pinned")
        # Each release's runtime libraries are named (their sonames differ: libavcodec61 on 13,
        # libavcodec59 on 12), and another suite fails the build rather than guessing.
        installs = " ".join(line for line in self.instructions
                            if line.startswith("RUN ") and "apt-get install" in line)
        for suite, libavcodec in [("trixie", "libavcodec61"), ("bookworm", "libavcodec59")]:
            self.assertRegex(installs, rf"{suite}\)[^;]*\b{libavcodec}\b", suite)
        self.assertRegex(installs, r"\*\) echo [^;]*; exit 1 ;;")

    def test_production_build_leaves_bench_and_libavfilter_out(self):
        build = " ".join(line for line in self.instructions if "meson setup" in line)
        self.assertIn("-Dbench=false", build)
        self.assertIn("-Dtests=false", build)
        installs = " ".join(line for line in self.instructions
                            if line.startswith("RUN ") and "apt-get install" in line)
        self.assertNotRegex(installs, r"libavfilter\d", "only `renderer bench` uses it")

    def test_ffmpeg_minimal_by_default_distro_by_build_arg(self):
        self.assertEqual(self.global_args.get("FFMPEG"), "minimal")
        names = {line.split(" AS ")[-1].strip() for line in self.instructions
                 if line.startswith("FROM ") and " AS " in line}
        for stage in ["ffmpeg-minimal", "ffmpeg-distro", "runtime-minimal", "runtime-distro"]:
            self.assertIn(stage, names)
        self.assertTrue(any(line.startswith("FROM ffmpeg-${FFMPEG} ") for line in
                            self.instructions))
        self.assertTrue(any(line.startswith("FROM runtime-${FFMPEG} ") for line in
                            self.instructions))
        self.assertTrue((ROOT / "scripts" / "build-ffmpeg-minimal.sh").is_file())

    def test_apt_cleans_up_in_the_layer_it_installs_in(self):
        for line in self.instructions:
            if line.startswith("RUN ") and "apt-get install" in line and "deps.sh" not in line:
                if "build-ffmpeg" in line:
                    continue
                self.assertIn("rm -rf /var/lib/apt/lists/*", line)
                self.assertIn("/var/cache/apt/*.bin", line)

    def test_default_target_runs_the_worker_as_non_root_with_oci_labels(self):
        self.assertEqual(json.loads(self.final_stage("ENTRYPOINT")[-1]), ["renderer"])
        self.assertEqual(json.loads(self.final_stage("CMD")[-1]), ["--json-logs"])
        user = ([u for u in self.final_stage("USER")] or
                [line[5:].strip() for line in self.instructions if line.startswith("USER ")])[-1]
        self.assertRegex(user, r"^[1-9][0-9]*(:[0-9]+)?$", "numeric, for runAsNonRoot")
        self.assertIn('["renderer", "healthcheck"]', " ".join(self.final_stage("HEALTHCHECK")))
        labels = " ".join(self.final_stage("LABEL"))
        for label in ["title", "version", "revision", "created", "source", "licenses",
                      "base.name"]:
            self.assertIn(f"org.opencontainers.image.{label}=", labels)
        licence = re.search(r'org\.opencontainers\.image\.licenses="([^"]+)"', labels).group(1)
        self.assertRegex(licence, r"^(LicenseRef-[A-Za-z0-9.-]+|[A-Za-z0-9.+-]+)( (AND|OR) .+)?$",
                         "an SPDX expression")

    def test_no_ffmpeg_package_is_installed(self):
        for line in self.instructions:
            if line.startswith("RUN ") and "apt-get install" in line:
                self.assertNotRegex(line, r"(?<![\w-])(ffmpeg|ffprobe)(?![\w-])", line)


class GTestStyleResult(unittest.TextTestResult):
    """Prints each test as GoogleTest does, so the suite summary counts these too."""

    def startTest(self, test):
        self._started = time.monotonic()
        print(f"[ RUN      ] {self.name(test)}", flush=True)
        super().startTest(test)

    def name(self, test):
        return f"{type(test).__name__}.{test._testMethodName}"

    def ms(self):
        return int((time.monotonic() - self._started) * 1000)

    def addSuccess(self, test):
        super().addSuccess(test)
        print(f"[       OK ] {self.name(test)} ({self.ms()} ms)", flush=True)

    def report_failure(self, test, err):
        print(self._exc_info_to_string(err, test), flush=True)
        print(f"[  FAILED  ] {self.name(test)} ({self.ms()} ms)", flush=True)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self.report_failure(test, err)

    def addError(self, test, err):
        super().addError(test, err)
        self.report_failure(test, err)

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            print(self._exc_info_to_string(err, test), flush=True)
            if not getattr(test, "_reported_failed", False):
                test._reported_failed = True
                print(f"[  FAILED  ] {self.name(test)} ({self.ms()} ms)", flush=True)

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        print(f"skipped: {reason}", flush=True)
        print(f"[  SKIPPED ] {self.name(test)} ({self.ms()} ms)", flush=True)


if __name__ == "__main__":
    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules[__name__])
    runner = unittest.TextTestRunner(stream=open("/dev/null", "w"), resultclass=GTestStyleResult)
    result = runner.run(suite)
    print(f"[==========] {result.testsRun} tests ran; "
          f"{len(result.failures) + len(result.errors)} failed", flush=True)
    sys.exit(0 if result.wasSuccessful() else 1)
