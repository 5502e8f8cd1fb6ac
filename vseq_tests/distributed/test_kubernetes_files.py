"""The Kubernetes files of docs/deployment.md ("Kubernetes, written, not run here"): they parse,
their workers run the commands the distributed tests run, and their limits are the production
sample's. Nothing here renders a chart or talks to a cluster (there is none on this machine)."""

from __future__ import annotations

from pathlib import Path

import yaml

from vseq_assets.celery import worker_command

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_celery_workers_run_the_tested_commands() -> None:
    deployment = yaml.safe_load((DOCS / "k8s-celery-workers.yaml").read_text())
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    script = container["command"][-1]
    assert " ".join(worker_command()) in " ".join(script.split())
    sources = {next(iter(ref.values()))["name"] for ref in container["envFrom"]}
    assert sources == {"vseq-settings", "vseq-secrets"}


def test_helm_values_keep_the_production_limits_and_secrets() -> None:
    values = yaml.safe_load((DOCS / "helm-values.yaml").read_text())
    sample = yaml.safe_load((DOCS / "dagster-production.yaml").read_text())
    queued = values["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]
    assert queued["maxConcurrentRuns"] == sample["concurrency"]["runs"]["max_concurrent_runs"]
    assert queued["tagConcurrencyLimits"] == sample["concurrency"]["runs"]["tag_concurrency_limits"]
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    assert launcher["envSecrets"] == [{"name": "vseq-secrets"}]
    resources = launcher["runK8sConfig"]["containerConfig"]["resources"]
    assert resources == sample["run_launcher"]["config"]["run_k8s_config"]["container_config"]["resources"]
    assert values["postgresql"]["postgresqlScheme"] == "postgresql+psycopg2"
