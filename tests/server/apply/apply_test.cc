#include "server/apply/apply.h"

#include <gtest/gtest.h>

#include "tests/server/apply/test_schemas.h"

namespace nave::apply {
namespace {

using testing::kindSchema;
using testing::testSchemas;
using testing::yaml;

constexpr std::string_view kDeployment = "io.k8s.api.apps.v1.Deployment";

WallTime at(int seconds) {
  return WallTime(std::chrono::seconds(1700000000 + seconds));
}

ManagerInfo who(std::string manager, int t = 0, std::string apiVersion = "apps/v1") {
  ManagerInfo info;
  info.manager = std::move(manager);
  info.apiVersion = std::move(apiVersion);
  info.time = at(t);
  return info;
}

const Json* entry(const Json& obj, std::string_view manager, std::string_view operation) {
  const Json& list = obj["metadata"]["managedFields"];
  for (const Json& e : list)
    if (e.value("manager", "") == manager && e.value("operation", "") == operation) return &e;
  return nullptr;
}

Json fieldsOf(const Json& obj, std::string_view manager, std::string_view operation) {
  const Json* e = entry(obj, manager, operation);
  EXPECT_NE(e, nullptr) << "no " << operation << " entry for " << manager << " in "
                        << obj["metadata"].dump();
  return e != nullptr ? (*e)["fieldsV1"] : Json();
}

size_t entryCount(const Json& obj) {
  const Json* meta = findMember(obj, "metadata");
  const Json* mf = meta != nullptr ? findMember(*meta, "managedFields") : nullptr;
  return mf != nullptr && mf->is_array() ? mf->size() : 0;
}

class DeploymentTest : public ::testing::Test {
 protected:
  const schema::Node& schema_ = kindSchema(kDeployment);

  Result<Json> apply(const Json* live, std::string_view config, const std::string& manager,
                     int t = 0, bool force = false) {
    return serverSideApply(live, yaml(config), &testSchemas(), schema_, who(manager, t), force);
  }
  Json mustApply(const Json* live, std::string_view config, const std::string& manager, int t = 0,
                 bool force = false) {
    auto r = apply(live, config, manager, t, force);
    EXPECT_TRUE(r.ok()) << r.error().message();
    return r.ok() ? *r : Json();
  }
  Json update(const Json* old, Json updated, const std::string& manager, int t = 0,
              std::string subresource = "") {
    ManagerInfo info = who(manager, t);
    info.subresource = std::move(subresource);
    auto r = recordUpdate(old, updated, &testSchemas(), schema_, info);
    EXPECT_TRUE(r.ok()) << r.error().message();
    return updated;
  }
};

constexpr std::string_view kWeb = R"(
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
  labels: {app: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: nginx
        image: nginx:1.25
        ports: [{containerPort: 80}]
)";

TEST_F(DeploymentTest, CreateRecordsEveryFieldForTheCreator) {
  Json created = update(nullptr, yaml(kWeb), "kubectl-create", 5);
  ASSERT_EQ(entryCount(created), 1u);
  const Json& e = created["metadata"]["managedFields"][0];
  EXPECT_EQ(e["manager"], "kubectl-create");
  EXPECT_EQ(e["operation"], "Update");
  EXPECT_EQ(e["apiVersion"], "apps/v1");
  EXPECT_EQ(e["fieldsType"], "FieldsV1");
  EXPECT_EQ(e["time"], formatRfc3339(at(5)));
  EXPECT_FALSE(e.contains("subresource"));
  // Identity and server-maintained fields are never owned; new maps, list items and structs
  // are owned themselves ("."), the selector (an atomic struct) as a whole; the port's key
  // includes protocol's default.
  Json expected = yaml(R"(
f:metadata:
  f:labels: {.: {}, f:app: {}}
f:spec:
  .: {}
  f:replicas: {}
  f:selector: {}
  f:template:
    .: {}
    f:metadata:
      .: {}
      f:labels: {.: {}, f:app: {}}
    f:spec:
      .: {}
      f:containers:
        .: {}
        'k:{"name":"nginx"}':
          .: {}
          f:image: {}
          f:name: {}
          f:ports:
            .: {}
            'k:{"containerPort":80,"protocol":"TCP"}': {.: {}, f:containerPort: {}}
)");
  EXPECT_EQ(e["fieldsV1"], expected) << e["fieldsV1"].dump(2);
}

TEST_F(DeploymentTest, UpdateMovesOnlyTheChangedFields) {
  Json created = update(nullptr, yaml(kWeb), "kubectl-create", 5);
  Json edited = created;
  edited["spec"]["replicas"] = 3;
  edited["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.26";
  edited = update(&created, edited, "kubectl-edit", 9);
  ASSERT_EQ(entryCount(edited), 2u);
  EXPECT_EQ(fieldsOf(edited, "kubectl-edit", "Update"), yaml(R"(
f:spec:
  f:replicas: {}
  f:template: {f:spec: {f:containers: {'k:{"name":"nginx"}': {f:image: {}}}}}
)"));
  Json creator = fieldsOf(edited, "kubectl-create", "Update");
  EXPECT_FALSE(creator["f:spec"].contains("f:replicas"));
  EXPECT_TRUE(creator["f:spec"].contains("f:selector"));
  EXPECT_FALSE(
      creator["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"nginx\"}"].contains(
          "f:image"));
  // The creator's time is untouched, the editor's is the edit's; entries go oldest first.
  EXPECT_EQ(*entry(edited, "kubectl-create", "Update")->find("time"), formatRfc3339(at(5)));
  EXPECT_EQ(edited["metadata"]["managedFields"][1]["manager"], "kubectl-edit");
}

TEST_F(DeploymentTest, NoOpUpdateLeavesManagedFieldsAlone) {
  Json created = update(nullptr, yaml(kWeb), "kubectl-create", 5);
  Json same = update(&created, created, "other", 50);
  EXPECT_EQ(same["metadata"]["managedFields"], created["metadata"]["managedFields"]);
}

TEST_F(DeploymentTest, UpdateRemovingAFieldDropsItsOwnership) {
  Json created = update(nullptr, yaml(kWeb), "kubectl-create", 5);
  Json edited = created;
  edited["metadata"].erase("labels");
  edited = update(&created, edited, "kubectl-edit", 9);
  EXPECT_FALSE(fieldsOf(edited, "kubectl-create", "Update").contains("f:metadata"));
  // Removing is a change, but removed fields belong to nobody: the editor owns nothing.
  EXPECT_EQ(entry(edited, "kubectl-edit", "Update"), nullptr);
}

TEST_F(DeploymentTest, ClientManagedFieldsReplaceOrResetTheStoredOnes) {
  Json created = update(nullptr, yaml(kWeb), "kubectl-create", 5);
  // Absent: the stored ones stay.
  Json replaced = created;
  replaced["metadata"].erase("managedFields");
  replaced["spec"]["paused"] = true;
  replaced = update(&created, replaced, "kubectl-replace", 6);
  EXPECT_NE(entry(replaced, "kubectl-create", "Update"), nullptr);
  EXPECT_NE(entry(replaced, "kubectl-replace", "Update"), nullptr);
  // [{}] and [] wipe them, and an untracked object stays untracked.
  for (const char* reset : {"[{}]", "[]"}) {
    Json wiped = created;
    wiped["metadata"]["managedFields"] = yaml(reset);
    wiped["spec"]["paused"] = true;
    wiped = update(&created, wiped, "kubectl-edit", 7);
    EXPECT_FALSE(wiped["metadata"].contains("managedFields")) << reset;
  }
  // Different entries sent by the client are taken as they are.
  Json mine = created;
  mine["metadata"]["managedFields"] = yaml(R"(
- manager: someone
  operation: Apply
  apiVersion: apps/v1
  fieldsType: FieldsV1
  fieldsV1: {f:spec: {f:replicas: {}, f:paused: {}}}
)");
  mine["spec"]["paused"] = false;
  mine = update(&created, mine, "kubectl-edit", 8);
  EXPECT_EQ(entry(mine, "kubectl-create", "Update"), nullptr);
  EXPECT_EQ(fieldsOf(mine, "someone", "Apply"), yaml("{f:spec: {f:replicas: {}}}"));
  EXPECT_EQ(fieldsOf(mine, "kubectl-edit", "Update"), yaml("{f:spec: {f:paused: {}}}"));
}

TEST_F(DeploymentTest, SubresourceUpdatesRecordTheSubresourceAndKeepStoredEntries) {
  Json created = update(nullptr, yaml(kWeb), "kubectl-create", 5);
  Json scaled = created;
  scaled["metadata"]["managedFields"] = Json::array();  // ignored on subresources
  scaled["spec"]["replicas"] = 7;
  scaled = update(&created, scaled, "kubectl", 6, "scale");
  const Json* e = entry(scaled, "kubectl", "Update");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ((*e)["subresource"], "scale");
  EXPECT_EQ((*e)["fieldsV1"], yaml("{f:spec: {f:replicas: {}}}"));
  EXPECT_NE(entry(scaled, "kubectl-create", "Update"), nullptr);
}

TEST_F(DeploymentTest, MalformedManagedFieldsAreBadRequests) {
  Json created = update(nullptr, yaml(kWeb), "kubectl-create", 5);
  const char* bad[] = {
      R"("nope")",
      R"([1])",
      R"([{"manager":"m","operation":"Patch","apiVersion":"v1","fieldsType":"FieldsV1"}])",
      R"([{"manager":"m","operation":"Update","fieldsType":"FieldsV1"}])",
      R"([{"manager":"m","operation":"Update","apiVersion":"v1"}])",
      R"([{"manager":"m","operation":"Update","apiVersion":"v1","fieldsType":"FieldsV2"}])",
      R"([{"manager":"m","operation":"Update","apiVersion":"v1","fieldsType":"FieldsV1","fieldsV1":{"f:a":[]}}])",
      R"([{"manager":"m","operation":"Update","apiVersion":"v1","fieldsType":"FieldsV1","fieldsV1":{"zz":{}}}])",
      R"([{"manager":"m","operation":"Update","apiVersion":"v1","fieldsType":"FieldsV1","time":"yesterday"}])",
      R"([{"manager":7,"operation":"Update","apiVersion":"v1","fieldsType":"FieldsV1"}])",
  };
  for (const char* mf : bad) {
    Json sent = created;
    sent["metadata"]["managedFields"] = parseJson(mf)->value;
    auto r = recordUpdate(&created, sent, &testSchemas(), schema_, who("m"));
    ASSERT_FALSE(r.ok()) << mf;
    EXPECT_EQ(r.error().code(), ErrorCode::kBadRequest) << mf;
    // The same garbage stored in the live object fails an apply the same way.
    auto a = serverSideApply(&sent, yaml("{apiVersion: apps/v1, kind: Deployment}"), &testSchemas(),
                             schema_, who("m"), false);
    ASSERT_FALSE(a.ok()) << mf;
    EXPECT_EQ(a.error().code(), ErrorCode::kBadRequest) << mf;
  }
}

TEST_F(DeploymentTest, CapsUpdateManagersAtTen) {
  Json obj = update(nullptr, yaml(kWeb), "creator", 0);
  for (int i = 1; i <= 12; ++i) {
    Json next = obj;
    next["metadata"]["labels"]["l" + std::to_string(i)] = "x";
    obj = update(&obj, next, "m" + std::to_string(i), i);
  }
  size_t updaters = 0;
  for (const Json& e : obj["metadata"]["managedFields"])
    if (e["operation"] == "Update") ++updaters;
  EXPECT_EQ(updaters, 10u);
  const Json* bucket = entry(obj, "ancient-changes", "Update");
  ASSERT_NE(bucket, nullptr);
  // The oldest entries were folded in, fields and all.
  EXPECT_TRUE((*bucket)["fieldsV1"]["f:metadata"]["f:labels"].contains("f:l1"));
  EXPECT_EQ(entry(obj, "creator", "Update"), nullptr);
  EXPECT_NE(entry(obj, "m12", "Update"), nullptr);
}

// --- server-side apply ---

constexpr std::string_view kApplied = R"(
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web, tier: frontend}
spec:
  replicas: 2
  paused: false
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: nginx
        image: nginx:1.25
)";

TEST_F(DeploymentTest, ApplyCreatesTheObjectAndOwnsExactlyWhatWasApplied) {
  Json obj = mustApply(nullptr, kApplied, "kubectl", 3);
  EXPECT_EQ(obj["spec"]["replicas"], 2);
  EXPECT_EQ(obj["metadata"]["name"], "web");
  ASSERT_EQ(entryCount(obj), 1u);
  const Json& e = obj["metadata"]["managedFields"][0];
  EXPECT_EQ(e["operation"], "Apply");
  EXPECT_EQ(e["apiVersion"], "apps/v1");
  EXPECT_EQ(e["time"], formatRfc3339(at(3)));
  // Applied sets own no "." for maps, structs or items' parents: only what the config names.
  EXPECT_EQ(e["fieldsV1"], yaml(R"(
f:metadata:
  f:labels: {f:app: {}, f:tier: {}}
f:spec:
  f:paused: {}
  f:replicas: {}
  f:selector: {}
  f:template:
    f:metadata: {f:labels: {f:app: {}}}
    f:spec:
      f:containers:
        'k:{"name":"nginx"}': {.: {}, f:image: {}, f:name: {}}
)")) << e["fieldsV1"].dump(2);
}

TEST_F(DeploymentTest, ReapplyWithoutAFieldRemovesIt) {
  Json obj = mustApply(nullptr, kApplied, "kubectl", 1);
  obj = mustApply(&obj, R"(
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: nginx
        image: nginx:1.25
)",
                  "kubectl", 2);
  EXPECT_FALSE(obj["spec"].contains("paused"));
  EXPECT_FALSE(obj["metadata"]["labels"].contains("tier"));
  EXPECT_EQ(obj["metadata"]["labels"]["app"], "web");
  Json f = fieldsOf(obj, "kubectl", "Apply");
  EXPECT_FALSE(f["f:spec"].contains("f:paused"));
  EXPECT_EQ(f["f:metadata"], yaml("{f:labels: {f:app: {}}}"));
}

TEST_F(DeploymentTest, ConflictsWithAnotherApplier) {
  Json obj = mustApply(nullptr, kApplied, "alice", 1);
  auto r = apply(&obj, R"({apiVersion: apps/v1, kind: Deployment, metadata: {name: web},
                          spec: {replicas: 3}})",
                 "bob", 2);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kConflict);
  EXPECT_EQ(r.error().message(),
            R"(Apply failed with 1 conflict: conflict with "alice": .spec.replicas)");
  ASSERT_EQ(r.error().causes.size(), 1u);
  EXPECT_EQ(r.error().causes[0].reason, "FieldManagerConflict");
  EXPECT_EQ(r.error().causes[0].message, R"(conflict with "alice")");
  EXPECT_EQ(r.error().causes[0].field, ".spec.replicas");
}

TEST_F(DeploymentTest, ConflictsNameUpdatersWithTheirVersionAndListEveryField) {
  Json obj = mustApply(nullptr, kApplied, "alice", 1);
  Json edited = obj;
  edited["spec"]["replicas"] = 5;
  edited = update(&obj, edited, "kubectl-edit", 2);
  auto r = apply(&edited, R"({apiVersion: apps/v1, kind: Deployment, metadata: {name: web},
                             spec: {replicas: 3, paused: true,
                                    template: {spec: {containers: [{name: nginx, image: x}]}}}})",
                 "bob", 3);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(),
            "Apply failed with 3 conflicts: conflicts with \"alice\":\n"
            "- .spec.paused\n"
            "- .spec.template.spec.containers[name=\"nginx\"].image\n"
            "conflicts with \"kubectl-edit\" using apps/v1:\n"
            "- .spec.replicas");
  ASSERT_EQ(r.error().causes.size(), 3u);
  EXPECT_EQ(r.error().causes[2].message, R"(conflict with "kubectl-edit" using apps/v1)");
  EXPECT_EQ(r.error().causes[1].field, R"(.spec.template.spec.containers[name="nginx"].image)");
}

TEST_F(DeploymentTest, ForceTakesOwnership) {
  Json obj = mustApply(nullptr, kApplied, "alice", 1);
  obj = mustApply(&obj, R"({apiVersion: apps/v1, kind: Deployment, metadata: {name: web},
                           spec: {replicas: 3}})",
                  "bob", 2, /*force=*/true);
  EXPECT_EQ(obj["spec"]["replicas"], 3);
  EXPECT_EQ(fieldsOf(obj, "bob", "Apply"), yaml("{f:spec: {f:replicas: {}}}"));
  EXPECT_FALSE(fieldsOf(obj, "alice", "Apply")["f:spec"].contains("f:replicas"));
  // Alice no longer owns replicas: dropping it from her config does not remove it.
  obj = mustApply(&obj, R"({apiVersion: apps/v1, kind: Deployment, metadata: {name: web},
                           spec: {selector: {matchLabels: {app: web}}}})",
                  "alice", 3);
  EXPECT_EQ(obj["spec"]["replicas"], 3);
  EXPECT_FALSE(obj["spec"].contains("paused"));
}

TEST_F(DeploymentTest, SameValueIsSharedWithoutConflict) {
  Json obj = mustApply(nullptr, kApplied, "alice", 1);
  obj = mustApply(&obj, R"({apiVersion: apps/v1, kind: Deployment, metadata: {name: web},
                           spec: {replicas: 2}})",
                  "bob", 2);
  EXPECT_TRUE(fieldsOf(obj, "alice", "Apply")["f:spec"].contains("f:replicas"));
  EXPECT_TRUE(fieldsOf(obj, "bob", "Apply")["f:spec"].contains("f:replicas"));
  // A shared field cannot be changed by one of its owners without a conflict...
  auto r = apply(&obj, R"({apiVersion: apps/v1, kind: Deployment, metadata: {name: web},
                          spec: {replicas: 4}})",
                 "bob", 3);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(),
            R"(Apply failed with 1 conflict: conflict with "alice": .spec.replicas)");
  // ...and survives one owner giving it up.
  obj = mustApply(&obj, R"({apiVersion: apps/v1, kind: Deployment, metadata: {name: web},
                           spec: {selector: {matchLabels: {app: web}}}})",
                  "alice", 4);
  EXPECT_EQ(obj["spec"]["replicas"], 2);
  EXPECT_FALSE(fieldsOf(obj, "alice", "Apply")["f:spec"].contains("f:replicas"));
}

TEST_F(DeploymentTest, UnchangedApplyKeepsTheTimestamp) {
  Json obj = mustApply(nullptr, kApplied, "kubectl", 1);
  Json again = mustApply(&obj, kApplied, "kubectl", 9);
  EXPECT_EQ(again, obj);
}

TEST_F(DeploymentTest, KeyedListItemsMergeAndPruneByKey) {
  Json obj = mustApply(nullptr, R"(
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  template:
    spec:
      containers:
      - name: nginx
        image: nginx
        ports: [{containerPort: 80}, {containerPort: 53, protocol: UDP}, {containerPort: 53}]
)",
                       "alice", 1);
  obj = mustApply(&obj, R"(
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  template:
    spec:
      containers:
      - name: sidecar
        image: envoy
)",
                  "bob", 2);
  const Json& containers = obj["spec"]["template"]["spec"]["containers"];
  ASSERT_EQ(containers.size(), 2u);
  EXPECT_EQ(containers[0]["name"], "nginx");
  EXPECT_EQ(containers[1]["name"], "sidecar");
  EXPECT_EQ(containers[0]["ports"].size(), 3u);
  Json alice = fieldsOf(obj, "alice", "Apply");
  Json ports =
      alice["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"nginx\"}"]["f:ports"];
  EXPECT_TRUE(ports.contains(R"(k:{"containerPort":80,"protocol":"TCP"})"));
  EXPECT_TRUE(ports.contains(R"(k:{"containerPort":53,"protocol":"UDP"})"));
  EXPECT_TRUE(ports.contains(R"(k:{"containerPort":53,"protocol":"TCP"})"));

  // Alice drops the TCP 53 port: only that item goes.
  obj = mustApply(&obj, R"(
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  template:
    spec:
      containers:
      - name: nginx
        image: nginx
        ports: [{containerPort: 80}, {containerPort: 53, protocol: UDP}]
)",
                  "alice", 3);
  const Json& p = obj["spec"]["template"]["spec"]["containers"][0]["ports"];
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p[1], yaml("{containerPort: 53, protocol: UDP}"));

  // Alice drops her container entirely; bob's stays.
  obj = mustApply(&obj, R"({apiVersion: apps/v1, kind: Deployment, metadata: {name: web},
                           spec: {template: {spec: {containers: []}}}})",
                  "alice", 4);
  ASSERT_EQ(obj["spec"]["template"]["spec"]["containers"].size(), 1u);
  EXPECT_EQ(obj["spec"]["template"]["spec"]["containers"][0]["name"], "sidecar");
}

TEST_F(DeploymentTest, MergedListsFollowTheAppliedOrder) {
  Json obj = mustApply(nullptr, R"({apiVersion: apps/v1, kind: Deployment, metadata: {name: web},
      spec: {template: {spec: {containers: [{name: a}, {name: b}, {name: c}]}}}})",
                       "alice", 1);
  obj = mustApply(&obj, R"({apiVersion: apps/v1, kind: Deployment, metadata: {name: web},
      spec: {template: {spec: {containers: [{name: c, image: x}, {name: a}]}}}})",
                  "bob", 2);
  std::vector<std::string> names;
  for (const Json& c : obj["spec"]["template"]["spec"]["containers"]) names.push_back(c["name"]);
  EXPECT_EQ(names, (std::vector<std::string>{"b", "c", "a"}));
}

TEST_F(DeploymentTest, AtomicValuesConflictAsAWhole) {
  Json obj = mustApply(nullptr, R"({apiVersion: apps/v1, kind: Deployment, metadata: {name: web},
      spec: {selector: {matchLabels: {app: web}},
             template: {spec: {containers: [{name: a, args: [x, y], command: [sh]}],
                               nodeSelector: {disk: ssd}}}}})",
                       "alice", 1);
  Json alice = fieldsOf(obj, "alice", "Apply");
  Json a = alice["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"a\"}"];
  EXPECT_EQ(a["f:args"], Json::object());
  EXPECT_EQ(a["f:command"], Json::object());  // no list type: atomic
  EXPECT_EQ(alice["f:spec"]["f:template"]["f:spec"]["f:nodeSelector"], Json::object());
  EXPECT_EQ(alice["f:spec"]["f:selector"], Json::object());

  auto r = apply(&obj, R"({apiVersion: apps/v1, kind: Deployment, metadata: {name: web},
      spec: {template: {spec: {containers: [{name: a, args: [z]}], nodeSelector: {zone: b}}}}})",
                 "bob", 2);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().causes.size(), 2u);
  EXPECT_EQ(r.error().causes[0].field, R"(.spec.template.spec.nodeSelector)");
  EXPECT_EQ(r.error().causes[1].field, R"(.spec.template.spec.containers[name="a"].args)");

  obj = mustApply(&obj, R"({apiVersion: apps/v1, kind: Deployment, metadata: {name: web},
      spec: {template: {spec: {containers: [{name: a, args: [z]}], nodeSelector: {zone: b}}}}})",
                  "bob", 2, /*force=*/true);
  EXPECT_EQ(obj["spec"]["template"]["spec"]["containers"][0]["args"], yaml("[z]"));
  EXPECT_EQ(obj["spec"]["template"]["spec"]["nodeSelector"], yaml("{zone: b}"));
}

TEST_F(DeploymentTest, SetsAndMapsAreOwnedPerItem) {
  Json obj = mustApply(nullptr, R"({apiVersion: apps/v1, kind: Deployment,
      metadata: {name: web, labels: {app: web}, finalizers: [example.com/a]}})",
                       "alice", 1);
  obj = mustApply(&obj, R"({apiVersion: apps/v1, kind: Deployment,
      metadata: {name: web, labels: {tier: fe}, finalizers: [example.com/b]}})",
                  "bob", 2);
  EXPECT_EQ(obj["metadata"]["finalizers"], yaml("[example.com/a, example.com/b]"));
  EXPECT_EQ(obj["metadata"]["labels"], yaml("{app: web, tier: fe}"));
  EXPECT_EQ(
      fieldsOf(obj, "bob", "Apply"),
      yaml(R"({f:metadata: {f:labels: {f:tier: {}}, f:finalizers: {'v:"example.com/b"': {}}}})"));
  obj = mustApply(&obj, R"({apiVersion: apps/v1, kind: Deployment, metadata: {name: web}})",
                  "alice", 3);
  EXPECT_EQ(obj["metadata"]["finalizers"], yaml("[example.com/b]"));
  EXPECT_EQ(obj["metadata"]["labels"], yaml("{tier: fe}"));
  EXPECT_EQ(entry(obj, "alice", "Apply"), nullptr);  // owns nothing any more
  // Bob removes the rest: the emptied map and list disappear.
  obj = mustApply(&obj, R"({apiVersion: apps/v1, kind: Deployment, metadata: {name: web},
      spec: {paused: true}})",
                  "bob", 4);
  EXPECT_FALSE(obj["metadata"].contains("labels"));
  EXPECT_FALSE(obj["metadata"].contains("finalizers"));
}

TEST_F(DeploymentTest, EmptyStructsAreOwnedAndKept) {
  Json obj = mustApply(nullptr, R"({apiVersion: apps/v1, kind: Deployment, metadata: {name: web},
      spec: {strategy: {type: Recreate}}})",
                       "alice", 1);
  obj = mustApply(&obj, R"({apiVersion: apps/v1, kind: Deployment, metadata: {name: web},
      spec: {strategy: {}}})",
                  "alice", 2);
  EXPECT_EQ(obj["spec"]["strategy"], Json::object());
  EXPECT_EQ(fieldsOf(obj, "alice", "Apply"), yaml("{f:spec: {f:strategy: {}}}"));
  obj = mustApply(&obj, R"({apiVersion: apps/v1, kind: Deployment, metadata: {name: web},
      spec: {paused: true}})",
                  "alice", 3);
  EXPECT_FALSE(obj["spec"].contains("strategy"));
}

TEST_F(DeploymentTest, FieldsSetBeforeTheFirstApplyConflict) {
  Json live = yaml(kWeb);  // an object nobody tracks
  auto r = apply(&live, R"({apiVersion: apps/v1, kind: Deployment, metadata: {name: web},
                           spec: {replicas: 9}})",
                 "alice", 1);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(
      r.error().message(),
      R"(Apply failed with 1 conflict: conflict with "before-first-apply" using apps/v1: .spec.replicas)");
  Json obj = mustApply(&live, R"({apiVersion: apps/v1, kind: Deployment, metadata: {name: web},
                                spec: {replicas: 2}})",
                       "alice", 1);
  EXPECT_NE(entry(obj, "before-first-apply", "Update"), nullptr);
  EXPECT_NE(entry(obj, "alice", "Apply"), nullptr);
  // Appliers come first.
  EXPECT_EQ(obj["metadata"]["managedFields"][0]["operation"], "Apply");
}

TEST_F(DeploymentTest, RefusesOtherKindsAndManagedFields) {
  auto r = apply(nullptr, "{apiVersion: apps/v1beta1, kind: Deployment, metadata: {name: web}}",
                 "alice");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kBadRequest);
  EXPECT_EQ(r.error().message(), "invalid object type: apps/v1beta1, Kind=Deployment");
  r = apply(nullptr, "{apiVersion: apps/v1, kind: StatefulSet, metadata: {name: web}}", "alice");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "invalid object type: apps/v1, Kind=StatefulSet");
  r = apply(nullptr, "{apiVersion: v1, kind: ConfigMap}", "alice");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "invalid object type: /v1, Kind=ConfigMap");
  r = apply(nullptr, R"({apiVersion: apps/v1, kind: Deployment,
                         metadata: {name: web, managedFields: []}})",
            "alice");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kBadRequest);
  EXPECT_EQ(r.error().message(), "metadata.managedFields must be nil");
}

TEST_F(DeploymentTest, RefusesConfigurationsTheSchemaCannotPlace) {
  const char* bad[] = {
      "{apiVersion: apps/v1, kind: Deployment, spec: {replicas: [1]}}",
      "{apiVersion: apps/v1, kind: Deployment, spec: {template: {spec: {containers: {}}}}}",
      "{apiVersion: apps/v1, kind: Deployment, spec: {template: {spec: {containers: [{image: "
      "x}]}}}}",
      "{apiVersion: apps/v1, kind: Deployment, spec: {template: {spec: {containers: [{name: a}, "
      "{name: a}]}}}}",
      "{apiVersion: apps/v1, kind: Deployment, metadata: {finalizers: [{a: 1}]}}",
  };
  for (const char* config : bad) {
    auto r = apply(nullptr, config, "alice");
    ASSERT_FALSE(r.ok()) << config;
    EXPECT_EQ(r.error().code(), ErrorCode::kBadRequest) << config;
  }
  auto r = apply(nullptr, bad[2], "alice");
  EXPECT_NE(r.error().message().find("omits key field \"name\""), std::string::npos)
      << r.error().message();
}

TEST_F(DeploymentTest, ResetFieldsAreNeverOwned) {
  ManagerInfo info = who("alice", 1);
  info.resetFields = {"status"};
  auto r = serverSideApply(nullptr, yaml(R"({apiVersion: apps/v1, kind: Deployment,
      metadata: {name: web}, spec: {replicas: 1}, status: {replicas: 4}})"),
                           &testSchemas(), schema_, info, false);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(fieldsOf(*r, "alice", "Apply"), yaml("{f:spec: {f:replicas: {}}}"));
}

TEST_F(DeploymentTest, ClientSideApplyMigratesToServerSideApply) {
  // kubectl apply (client side) created the object with its annotation.
  Json config = yaml(kWeb);
  Json created = config;
  created["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] =
      dumpJson(config) + "\n";
  created = update(nullptr, created, "kubectl-client-side-apply", 1);
  // kubectl apply --server-side of a changed config: the fields the annotation recorded
  // are taken over without conflicts.
  std::string changed = R"({apiVersion: apps/v1, kind: Deployment, metadata: {name: web},
      spec: {replicas: 5, selector: {matchLabels: {app: web}}}})";
  Json obj = mustApply(&created, changed, "kubectl", 2);
  EXPECT_EQ(obj["spec"]["replicas"], 5);
  EXPECT_TRUE(fieldsOf(obj, "kubectl", "Apply")["f:spec"].contains("f:replicas"));
  EXPECT_FALSE(
      fieldsOf(obj, "kubectl-client-side-apply", "Update")["f:spec"].contains("f:replicas"));
  // The annotation now records the server-side configuration.
  auto annotation =
      parseJson(obj["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
                    .get<std::string>());
  ASSERT_TRUE(annotation.ok());
  EXPECT_EQ(annotation->value, yaml(changed));
  // Another manager gets the conflict, as usual.
  auto r = apply(&created, changed, "someone-else", 2);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(
      r.error().message(),
      R"(Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1: .spec.replicas)");
}

// --- other shapes ---

TEST(ApplyShapes, ConfigMapDocumentationExample) {
  const schema::Node& cm = kindSchema("io.k8s.api.core.v1.ConfigMap");
  auto r = serverSideApply(nullptr, yaml(R"(
apiVersion: v1
kind: ConfigMap
metadata:
  name: test-cm
  namespace: default
  labels:
    test-label: test
data:
  key: some value
)"),
                           &testSchemas(), cm, who("kubectl", 0, "v1"), false);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(fieldsOf(*r, "kubectl", "Apply"), yaml(R"(
f:metadata:
  f:labels:
    f:test-label: {}
f:data:
  f:key: {}
)"));
  EXPECT_EQ((*r)["metadata"]["managedFields"][0]["apiVersion"], "v1");
}

TEST(ApplyShapes, FreeFormAndEmbeddedValues) {
  const schema::Node& widget = kindSchema("com.example.v1.Widget");
  ManagerInfo info = who("op", 0, "example.com/v1");
  auto r = serverSideApply(nullptr, yaml(R"({apiVersion: example.com/v1, kind: Widget,
      metadata: {name: w}, spec: {size: 1, config: {a: {b: 1}, l: [1, 2]}, items: [x]},
      extra: {k: v}})"),
                           &testSchemas(), widget, info, false);
  ASSERT_TRUE(r.ok()) << r.error().message();
  // Deduced maps are granular (their entries are members), deduced lists atomic.
  EXPECT_EQ(fieldsOf(*r, "op", "Apply"), yaml(R"(
f:extra: {f:k: {}}
f:spec:
  f:size: {}
  f:items: {}
  f:config:
    f:a: {.: {}, f:b: {}}
    f:l: {}
)"));
  const schema::Node& rev = kindSchema("io.k8s.api.apps.v1.ControllerRevision");
  auto c = serverSideApply(nullptr, yaml(R"({apiVersion: apps/v1, kind: ControllerRevision,
      metadata: {name: r}, data: {spec: {a: 1}}, revision: 2})"),
                           &testSchemas(), rev, who("op"), false);
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(fieldsOf(*c, "op", "Apply"),
            yaml("{f:data: {}, f:revision: {}}"));  // RawExtension: atomic
}

TEST(ApplyShapes, ListWithMergeStrategyButNoKeyIsASet) {
  const schema::Node& pod = kindSchema("io.k8s.api.core.v1.Pod");
  auto r = serverSideApply(nullptr, yaml(R"({apiVersion: v1, kind: Pod, metadata: {name: p},
      spec: {hostAliases: [{ip: 1.2.3.4, hostnames: [a, b]}], tolerations: [{key: k}]}})"),
                           &testSchemas(), pod, who("op", 0, "v1"), false);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(fieldsOf(*r, "op", "Apply"), yaml(R"(
f:spec:
  f:tolerations: {}
  f:hostAliases:
    'k:{"ip":"1.2.3.4"}':
      .: {}
      f:ip: {}
      f:hostnames: {'v:"a"': {}, 'v:"b"': {}}
)"));
}

}  // namespace
}  // namespace nave::apply
