"""Jobs and CronJobs end to end: `nave server` with its agent runs the pods, the Job and CronJob
controllers drive them, real kubectl watches."""

import json
import time

import harness

TIMEOUT = 180


def busybox_archive():
    return [harness.busybox_images()["docker"]]


class BatchTest(harness.ClusterTestCase):
    agent = True
    images = busybox_archive

    def node_name(self):
        return "node-" + self.cluster.name.lower()[:40]

    def pod_template(self, command, indent):
        lines = [
            "spec:",
            "  restartPolicy: Never",
            "  terminationGracePeriodSeconds: 2",
            "  containers:",
            "  - name: main",
            "    image: busybox",
            "    imagePullPolicy: IfNotPresent",
            f"    command: {json.dumps(command)}",
        ]
        return "\n".join(" " * indent + line for line in lines)

    def apply(self, manifest):
        return self.k("apply", "-f", "-", input=manifest)

    def get(self, kind, name):
        return json.loads(self.k("get", kind, name, "-o", "json").out)

    def wait_until(self, what, predicate, timeout=TIMEOUT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(1)
        events = self.k("get", "events", "--sort-by=.lastTimestamp", check=False).out
        self.fail(f"{what} did not happen in {timeout} s\n{events}\n{self.cluster.log_tail()}")

    def test_job_with_completions_and_parallelism_completes(self):
        self.apply(f"""
apiVersion: batch/v1
kind: Job
metadata: {{name: five}}
spec:
  completions: 5
  parallelism: 2
  template:
{self.pod_template(["sh", "-c", "sleep 2"], 4)}
""")
        # Sample while it runs: never more than two active pods.
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            job = self.get("job", "five")
            status = job.get("status", {})
            self.assertLessEqual(status.get("active", 0), 2, status)
            pods = json.loads(self.k("get", "pods", "-l", "batch.kubernetes.io/job-name=five",
                                     "-o", "json").out)["items"]
            running = [p for p in pods if p["status"].get("phase") not in ("Succeeded", "Failed")
                       and not p["metadata"].get("deletionTimestamp")]
            self.assertLessEqual(len(running), 2, [p["metadata"]["name"] for p in running])
            if any(c["type"] == "Complete" and c["status"] == "True"
                   for c in status.get("conditions", [])):
                break
            time.sleep(0.5)
        self.k("wait", "--for=condition=complete", "job/five", f"--timeout={TIMEOUT}s",
               timeout=TIMEOUT + 10)
        status = self.get("job", "five")["status"]
        self.assertEqual(status["succeeded"], 5)
        self.assertEqual(status.get("failed", 0), 0)
        self.assertIn("completionTime", status)
        pods = json.loads(self.k("get", "pods", "-l", "job-name=five", "-o", "json").out)["items"]
        self.assertEqual(len(pods), 5)
        for p in pods:
            self.assertEqual(p["status"]["phase"], "Succeeded")
            self.assertNotIn("batch.kubernetes.io/job-tracking", p["metadata"].get("finalizers", []))
        table = self.k("get", "jobs", "five").out.splitlines()
        self.assertEqual(table[0].split()[:4], ["NAME", "STATUS", "COMPLETIONS", "DURATION"])
        self.assertEqual(table[1].split()[:3], ["five", "Complete", "5/5"])
        events = self.k("get", "events", "--field-selector", "involvedObject.name=five",
                        "-o", "json").out
        reasons = {e["reason"] for e in json.loads(events)["items"]}
        self.assertLessEqual({"SuccessfulCreate", "Completed"}, reasons)

    def test_failing_job_stops_at_its_backoff_limit(self):
        self.apply(f"""
apiVersion: batch/v1
kind: Job
metadata: {{name: broken}}
spec:
  backoffLimit: 1
  template:
{self.pod_template(["sh", "-c", "exit 1"], 4)}
""")
        self.k("wait", "--for=condition=failed", "job/broken", f"--timeout={TIMEOUT}s",
               timeout=TIMEOUT + 10)
        job = self.get("job", "broken")
        failed = [c for c in job["status"]["conditions"] if c["type"] == "Failed"][0]
        self.assertEqual(failed["reason"], "BackoffLimitExceeded")
        self.assertEqual(failed["message"], "Job has reached the specified backoff limit")
        self.assertEqual(job["status"]["failed"], 2)
        self.assertEqual(job["status"].get("active", 0), 0)
        self.assertIn("Failed", self.k("get", "jobs", "broken").out)

    def test_active_deadline_stops_the_job_and_ttl_deletes_it(self):
        self.apply(f"""
apiVersion: batch/v1
kind: Job
metadata: {{name: sleeper}}
spec:
  parallelism: 2
  completions: 2
  activeDeadlineSeconds: 3
  ttlSecondsAfterFinished: 5
  template:
{self.pod_template(["sleep", "600"], 4)}
""")
        self.k("wait", "--for=condition=failed", "job/sleeper", f"--timeout={TIMEOUT}s",
               timeout=TIMEOUT + 10)
        job = self.get("job", "sleeper")
        conditions = {c["type"]: c for c in job["status"]["conditions"]}
        self.assertEqual(conditions["FailureTarget"]["reason"], "DeadlineExceeded")
        self.assertEqual(conditions["Failed"]["reason"], "DeadlineExceeded")
        self.assertEqual(conditions["Failed"]["message"],
                         "Job was active longer than specified deadline")
        # Failed only once the pods were stopped.
        self.assertEqual(job["status"].get("active", 0), 0)
        self.assertEqual(job["status"].get("terminating", 0), 0)
        self.assertEqual(job["status"]["failed"], 2)

        # Then, 5 s after it failed, the Job and its pods are deleted.
        def gone():
            r = self.k("get", "job", "sleeper", check=False)
            return r.rc != 0 and "NotFound" in r.err
        self.wait_until("the deletion of the Job after its TTL", gone, timeout=120)
        self.wait_until("the deletion of its pods", lambda: not json.loads(
            self.k("get", "pods", "-l", "job-name=sleeper", "-o", "json").out)["items"], timeout=120)

    def test_indexed_job_gives_each_pod_its_index(self):
        self.apply(f"""
apiVersion: batch/v1
kind: Job
metadata: {{name: indexed}}
spec:
  completions: 3
  parallelism: 3
  completionMode: Indexed
  template:
{self.pod_template(["sh", "-c", "echo index=$JOB_COMPLETION_INDEX host=$(hostname)"], 4)}
""")
        self.k("wait", "--for=condition=complete", "job/indexed", f"--timeout={TIMEOUT}s",
               timeout=TIMEOUT + 10)
        job = self.get("job", "indexed")
        self.assertEqual(job["status"]["completedIndexes"], "0-2")
        self.assertEqual(job["status"]["succeeded"], 3)
        pods = json.loads(self.k("get", "pods", "-l", "job-name=indexed", "-o", "json").out)["items"]
        seen = set()
        for p in pods:
            index = p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"]
            logs = self.k("logs", p["metadata"]["name"]).out.strip()
            self.assertEqual(logs, f"index={index} host=indexed-{index}")
            seen.add(index)
        self.assertEqual(seen, {"0", "1", "2"})
        self.assertEqual(self.get("job", "indexed")["status"]["conditions"][-1]["type"], "Complete")

    def test_cronjob_creates_jobs_and_trims_its_history(self):
        self.apply(f"""
apiVersion: batch/v1
kind: CronJob
metadata: {{name: minutely}}
spec:
  schedule: "* * * * *"
  successfulJobsHistoryLimit: 0
  failedJobsHistoryLimit: 0
  jobTemplate:
    spec:
      template:
{self.pod_template(["sh", "-c", "echo tick"], 8)}
""")

        def created():
            events = json.loads(self.k("get", "events", "--field-selector",
                                       "involvedObject.name=minutely", "-o", "json").out)["items"]
            return [e for e in events if e["reason"] == "SuccessfulCreate"]

        first = self.wait_until("a Job from the CronJob", created, timeout=120)
        job_name = first[0]["message"].split()[-1]
        self.assertRegex(job_name, r"^minutely-\d+$")
        self.assertEqual(first[0]["source"]["component"], "cronjob-controller")
        # The Job runs, completes, and the history limit of 0 deletes it.
        self.wait_until("the CronJob's lastSuccessfulTime",
                        lambda: self.get("cronjob", "minutely").get("status", {})
                        .get("lastSuccessfulTime"))

        def trimmed():
            r = self.k("get", "job", job_name, check=False)
            return r.rc != 0 and "NotFound" in r.err
        self.wait_until(f"the deletion of {job_name}", trimmed)
        events = json.loads(self.k("get", "events", "--field-selector",
                                   "involvedObject.name=minutely", "-o", "json").out)["items"]
        reasons = {e["reason"] for e in events}
        # (With a limit of 0 the finished Job is deleted before it is seen as completed, so
        # there is no SawCompletedJob, as in Kubernetes.)
        self.assertLessEqual({"SuccessfulCreate", "SuccessfulDelete"}, reasons)
        deleted = [e for e in events if e["reason"] == "SuccessfulDelete"]
        self.assertEqual(deleted[0]["message"], f"Deleted job {job_name}")
        cj = self.get("cronjob", "minutely")
        self.assertIn("lastScheduleTime", cj["status"])
        self.k("delete", "cronjob", "minutely")
