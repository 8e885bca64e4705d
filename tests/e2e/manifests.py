"""Manifests shared by the tests (plain strings, so a test can change one field with replace)."""


def app_manifest(ns, replicas=1, image="nginx:1.25"):
    """One object of each kind the issue's apply acceptance names, in namespace ns."""
    return f"""\
apiVersion: v1
kind: Namespace
metadata:
  name: {ns}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: app-config
  namespace: {ns}
  labels:
    app: web
data:
  greeting: hello
  mode: production
---
apiVersion: v1
kind: Secret
metadata:
  name: app-secret
  namespace: {ns}
type: Opaque
data:
  password: czNjcjN0
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: {ns}
spec:
  selector:
    app: web
  ports:
  - name: http
    port: 80
    targetPort: 8080
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: {ns}
  labels:
    app: web
spec:
  replicas: {replicas}
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: web
        image: {image}
        ports:
        - containerPort: 8080
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
  namespace: {ns}
spec:
  serviceName: db
  replicas: 1
  selector:
    matchLabels:
      app: db
  template:
    metadata:
      labels:
        app: db
    spec:
      containers:
      - name: db
        image: postgres:16
---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: agent
  namespace: {ns}
spec:
  selector:
    matchLabels:
      app: agent
  template:
    metadata:
      labels:
        app: agent
    spec:
      containers:
      - name: agent
        image: busybox:1.36
        command: ["sleep", "3600"]
---
apiVersion: batch/v1
kind: Job
metadata:
  name: once
  namespace: {ns}
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: once
        image: busybox:1.36
        command: ["true"]
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: nightly
  namespace: {ns}
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers:
          - name: nightly
            image: busybox:1.36
            command: ["true"]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
  namespace: {ns}
spec:
  rules:
  - host: web.example.com
    http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service:
            name: web
            port:
              number: 80
"""


# kubectl's "kind.group/name" for each object of app_manifest, in manifest order.
APP_OBJECTS = [
    ("namespace", None), ("configmap", "app-config"), ("secret", "app-secret"),
    ("service", "web"), ("deployment.apps", "web"), ("statefulset.apps", "db"),
    ("daemonset.apps", "agent"), ("job.batch", "once"), ("cronjob.batch", "nightly"),
    ("ingress.networking.k8s.io", "web"),
]


def configmap(name, ns="default", data=None, labels=None):
    data = data or {"key": "value"}
    lines = ["apiVersion: v1", "kind: ConfigMap", "metadata:", f"  name: \"{name}\"",
             f"  namespace: \"{ns}\""]
    if labels:
        lines.append("  labels:")
        lines += [f"    {k}: \"{v}\"" for k, v in labels.items()]
    lines.append("data:")
    lines += [f"  {k}: \"{v}\"" for k, v in data.items()]
    return "\n".join(lines) + "\n"


def pod(name, ns="default", image="nginx:1.25", labels=None):
    lab = ""
    if labels:
        lab = "  labels:\n" + "".join(f"    {k}: \"{v}\"\n" for k, v in labels.items())
    return f"""\
apiVersion: v1
kind: Pod
metadata:
  name: {name}
  namespace: {ns}
{lab}spec:
  containers:
  - name: main
    image: {image}
"""


def deployment(name, ns, replicas=1, containers=None):
    containers = containers or [("web", "nginx:1.25", 80)]
    cs = "".join(f"""\
      - name: {c}
        image: {img}
        ports:
        - containerPort: {port}
""" for c, img, port in containers)
    return f"""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: {ns}
spec:
  replicas: {replicas}
  selector:
    matchLabels:
      app: {name}
  template:
    metadata:
      labels:
        app: {name}
    spec:
      containers:
{cs}"""
