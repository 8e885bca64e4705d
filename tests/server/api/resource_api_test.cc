#include "server/api/resource_api.h"

#include <gtest/gtest.h>
#include <poll.h>

#include <atomic>
#include <thread>

#include "tests/server/api_fixture.h"

namespace nave::testing {
namespace {

using client::Resource;

Json deployment(const std::string& name, int replicas = 2) {
  return Json::parse(R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":")" + name +
                     R"("},"spec":{"replicas":)" + std::to_string(replicas) +
                     R"(,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"web","image":"busybox"}]}}}})");
}

std::vector<std::string> names(const Json& list) {
  std::vector<std::string> out;
  for (const Json& i : list["items"]) out.push_back(i["metadata"]["name"]);
  return out;
}

// Collects events from a watch until `count` arrived or a second passed.
std::vector<client::WatchEvent> drain(client::Watch& w, size_t count) {
  std::vector<client::WatchEvent> out;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (out.size() < count && std::chrono::steady_clock::now() < deadline) {
    pollfd p{w.fd(), POLLIN, 0};
    ::poll(&p, 1, 50);
    if (!w.next(out)) break;
  }
  return out;
}

TEST(ResourceApi, CreateSetsSystemFieldsDefaultsAndManagedFields) {
  ApiFixture f;
  auto created = f.client().create(kDeployments, "default", deployment("web"));
  ASSERT_TRUE(created.ok()) << created.error().message();
  const Json& m = (*created)["metadata"];
  EXPECT_EQ(m["uid"].get<std::string>().size(), 36u);
  EXPECT_TRUE(m.contains("creationTimestamp"));
  EXPECT_EQ(m["generation"], 1);
  EXPECT_FALSE(m["resourceVersion"].get<std::string>().empty());
  EXPECT_EQ((*created)["spec"]["strategy"]["type"], "RollingUpdate");
  EXPECT_EQ((*created)["spec"]["revisionHistoryLimit"], 10);
  ASSERT_TRUE(m["managedFields"].is_array());
  EXPECT_EQ(m["managedFields"][0]["manager"], "test");
  EXPECT_EQ(m["managedFields"][0]["operation"], "Update");
  EXPECT_FALSE((*created).contains("status") && (*created)["status"].contains("replicas"));

  auto again = f.client().create(kDeployments, "default", deployment("web"));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code(), ErrorCode::kAlreadyExists);
  EXPECT_EQ(again.error().message(), "deployments.apps \"web\" already exists");
}

TEST(ResourceApi, GenerateNameAndNamespaceAdmission) {
  ApiFixture f;
  Json cm = configMap("");
  cm["metadata"].erase("name");
  cm["metadata"]["generateName"] = "gen-";
  auto created = f.client().create(kConfigMaps, "default", cm);
  ASSERT_TRUE(created.ok()) << created.error().message();
  std::string name = (*created)["metadata"]["name"];
  EXPECT_EQ(name.size(), 9u);
  EXPECT_EQ(name.substr(0, 4), "gen-");

  auto missing = f.client().create(kConfigMaps, "nowhere", configMap("x", "nowhere"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message(), "namespaces \"nowhere\" not found");

  auto mismatch = f.client().create(kConfigMaps, "default", configMap("x", "other"));
  ASSERT_FALSE(mismatch.ok());
  EXPECT_EQ(mismatch.error().code(), ErrorCode::kBadRequest);
}

TEST(ResourceApi, InvalidObjectsAreRefusedWithFieldCauses) {
  ApiFixture f;
  auto r = f.client().create(kConfigMaps, "default", configMap("Bad_Name"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalid);
  EXPECT_EQ(r.error().message().rfind("ConfigMap \"Bad_Name\" is invalid: metadata.name: Invalid value: \"Bad_Name\"", 0), 0u)
      << r.error().message();
  ASSERT_FALSE(r.error().causes.empty());
  EXPECT_EQ(r.error().causes[0].field, "metadata.name");
  EXPECT_EQ(r.error().causes[0].reason, "FieldValueInvalid");
}

TEST(ResourceApi, FieldValidationStrictWarnIgnore) {
  ApiFixture f;
  Json cm = configMap("strict");
  cm["spec"] = {{"oops", 1}};
  cm["metadata"]["labelz"] = {{"a", "b"}};
  api::WriteOptions strict;
  strict.fieldValidation = api::FieldValidation::kStrict;
  auto r = f.client().create(kConfigMaps, "default", cm, strict);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kBadRequest);
  EXPECT_NE(r.error().message().find("strict decoding error: unknown field \"metadata.labelz\""), std::string::npos)
      << r.error().message();
  EXPECT_NE(r.error().message().find("unknown field \"spec\""), std::string::npos);

  auto warned = f.client().create(kConfigMaps, "default", cm);  // Warn: accepted, pruned
  ASSERT_TRUE(warned.ok()) << warned.error().message();
  EXPECT_FALSE(warned->contains("spec"));
  EXPECT_FALSE((*warned)["metadata"].contains("labelz"));

  Json wrongType = configMap("typed");
  wrongType["data"] = {{"k", 5}};
  auto t = f.client().create(kConfigMaps, "default", wrongType);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.error().message().find("cannot unmarshal number into Go struct field"), std::string::npos)
      << t.error().message();
}

TEST(ResourceApi, UpdateConflictsOnStaleVersionAndBumpsGenerationOnSpecChange) {
  ApiFixture f;
  Json d = *f.client().create(kDeployments, "default", deployment("web"));
  Json stale = d;
  d["spec"]["replicas"] = 5;
  auto updated = f.client().update(kDeployments, "default", d);
  ASSERT_TRUE(updated.ok()) << updated.error().message();
  EXPECT_EQ((*updated)["metadata"]["generation"], 2);

  stale["spec"]["replicas"] = 7;
  auto conflict = f.client().update(kDeployments, "default", stale);
  ASSERT_FALSE(conflict.ok());
  EXPECT_EQ(conflict.error().code(), ErrorCode::kConflict);
  EXPECT_EQ(conflict.error().message(),
            "Operation cannot be fulfilled on deployments.apps \"web\": the object has been "
            "modified; please apply your changes to the latest version and try again");

  // A label change is not a spec change; an update without resourceVersion is unconditional.
  Json labelled = *updated;
  labelled["metadata"]["labels"] = {{"team", "a"}};
  labelled["metadata"].erase("resourceVersion");
  auto l = f.client().update(kDeployments, "default", labelled);
  ASSERT_TRUE(l.ok()) << l.error().message();
  EXPECT_EQ((*l)["metadata"]["generation"], 2);

  // An update that changes nothing keeps the resourceVersion.
  auto same = f.client().update(kDeployments, "default", *l);
  ASSERT_TRUE(same.ok());
  EXPECT_EQ((*same)["metadata"]["resourceVersion"], (*l)["metadata"]["resourceVersion"]);
}

TEST(ResourceApi, StatusSubresourceSeparatesSpecAndStatus) {
  ApiFixture f;
  Json d = *f.client().create(kDeployments, "default", deployment("web"));
  Json withStatus = d;
  withStatus["status"] = {{"replicas", 2}, {"readyReplicas", 1}};
  withStatus["spec"]["replicas"] = 9;
  auto s = f.client().update(kDeployments, "default", withStatus, {}, "status");
  ASSERT_TRUE(s.ok()) << s.error().message();
  EXPECT_EQ((*s)["status"]["readyReplicas"], 1);
  EXPECT_EQ((*s)["spec"]["replicas"], 2);  // spec is not the status endpoint's
  Json main = *s;
  main["status"] = {{"replicas", 100}};
  main["spec"]["replicas"] = 3;
  auto m = f.client().update(kDeployments, "default", main);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ((*m)["status"]["replicas"], 2);  // status is not the main endpoint's
  EXPECT_EQ((*m)["spec"]["replicas"], 3);
}

TEST(ResourceApi, PatchTypesAndScale) {
  ApiFixture f;
  ASSERT_TRUE(f.client().create(kDeployments, "default", deployment("web")).ok());
  auto merge = f.client().patch(kDeployments, "default", "web", api::PatchType::kMerge,
                                R"({"metadata":{"labels":{"a":"1"}}})");
  ASSERT_TRUE(merge.ok()) << merge.error().message();
  EXPECT_EQ((*merge)["metadata"]["labels"]["a"], "1");
  auto smp = f.client().patch(kDeployments, "default", "web", api::PatchType::kStrategic,
                              R"({"spec":{"template":{"spec":{"containers":[{"name":"side","image":"x"}]}}}})");
  ASSERT_TRUE(smp.ok()) << smp.error().message();
  EXPECT_EQ((*smp)["spec"]["template"]["spec"]["containers"].size(), 2u);  // merged by name
  auto json = f.client().patch(kDeployments, "default", "web", api::PatchType::kJson,
                               R"([{"op":"replace","path":"/spec/replicas","value":4}])");
  ASSERT_TRUE(json.ok()) << json.error().message();
  EXPECT_EQ((*json)["spec"]["replicas"], 4);
  auto bad = f.client().patch(kDeployments, "default", "web", api::PatchType::kJson,
                              R"([{"op":"test","path":"/spec/replicas","value":1}])");
  ASSERT_FALSE(bad.ok());
  auto missing = f.client().patch(kDeployments, "default", "nope", api::PatchType::kMerge, "{}");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);

  auto scale = f.client().get(kDeployments, "default", "web", "scale");
  ASSERT_TRUE(scale.ok()) << scale.error().message();
  EXPECT_EQ((*scale)["kind"], "Scale");
  EXPECT_EQ((*scale)["spec"]["replicas"], 4);
  EXPECT_EQ((*scale)["status"]["selector"], "app=web");
  auto scaled = f.client().patch(kDeployments, "default", "web", api::PatchType::kMerge,
                                 R"({"spec":{"replicas":6}})", {}, "scale");
  ASSERT_TRUE(scaled.ok()) << scaled.error().message();
  EXPECT_EQ((*f.client().get(kDeployments, "default", "web"))["spec"]["replicas"], 6);

  // Scale patches race with other writers (a controller's status) without conflicts, unless
  // they carry a resourceVersion.
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      auto r = f.client().patch(kDeployments, "default", "web", api::PatchType::kMerge,
                                R"({"spec":{"replicas":)" + std::to_string(i) + "}}", {}, "scale");
      if (!r.ok()) ++failures;
    });
    threads.emplace_back([&, i] {
      auto r = f.client().patch(kDeployments, "default", "web", api::PatchType::kMerge,
                                R"({"metadata":{"annotations":{"a":")" + std::to_string(i) + R"("}}})");
      if (!r.ok()) ++failures;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures, 0);
  auto stale = f.client().patch(kDeployments, "default", "web", api::PatchType::kMerge,
                                R"({"metadata":{"resourceVersion":"1"},"spec":{"replicas":2}})",
                                {}, "scale");
  ASSERT_FALSE(stale.ok());
  EXPECT_TRUE(stale.error().is(ErrorCode::kConflict)) << stale.error().message();
}

TEST(ResourceApi, ConcurrentPatchesAllApplyAndRenamesAreRefused) {
  ApiFixture f;
  ASSERT_TRUE(f.client().create(kConfigMaps, "default", configMap("busy")).ok());
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int i = 0; i < 16; ++i)
    threads.emplace_back([&, i] {
      auto r = f.client().patch(kConfigMaps, "default", "busy", api::PatchType::kMerge,
                                R"({"data":{"k)" + std::to_string(i) + R"(":"v"}})");
      if (!r.ok()) ++failures;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures, 0);
  EXPECT_EQ((*f.client().get(kConfigMaps, "default", "busy"))["data"].size(), 17u);
  auto renamed = f.client().patch(kConfigMaps, "default", "busy", api::PatchType::kJson,
                                  R"([{"op":"replace","path":"/metadata/name","value":"other"}])");
  ASSERT_FALSE(renamed.ok());
  EXPECT_EQ(renamed.error().message(),
            "the name of the object (other) does not match the name on the URL (busy)");
  // An explicit resourceVersion in the patch is a precondition.
  auto stale = f.client().patch(kConfigMaps, "default", "busy", api::PatchType::kMerge,
                                R"({"metadata":{"resourceVersion":"1"},"data":{"z":"1"}})");
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.error().code(), ErrorCode::kConflict);
  api::WriteOptions a;
  a.fieldManager = "m";
  auto noVersion = f.client().patch(kConfigMaps, "default", "busy", api::PatchType::kApply,
                                    "kind: ConfigMap\nmetadata: {name: busy}\n", a);
  ASSERT_FALSE(noVersion.ok());
  EXPECT_EQ(noVersion.error().code(), ErrorCode::kBadRequest);
  auto sub = f.client().get(kConfigMaps, "default", "busy", "nosub");
  ASSERT_FALSE(sub.ok());
  EXPECT_EQ(sub.error().code(), ErrorCode::kNotFound);
}

TEST(ResourceApi, ServerSideApplyCreatesAndReportsConflicts) {
  ApiFixture f;
  api::WriteOptions a;
  a.fieldManager = "alice";
  auto created = f.client().patch(kConfigMaps, "default", "applied", api::PatchType::kApply,
                                  R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"applied"},"data":{"x":"1"}})", a);
  ASSERT_TRUE(created.ok()) << created.error().message();
  EXPECT_EQ((*created)["data"]["x"], "1");
  api::WriteOptions b;
  b.fieldManager = "bob";
  auto conflict = f.client().patch(kConfigMaps, "default", "applied", api::PatchType::kApply,
                                   R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"applied"},"data":{"x":"2"}})", b);
  ASSERT_FALSE(conflict.ok());
  EXPECT_EQ(conflict.error().code(), ErrorCode::kConflict);
  EXPECT_NE(conflict.error().message().find("conflict with \"alice\""), std::string::npos)
      << conflict.error().message();
  b.force = true;
  auto forced = f.client().patch(kConfigMaps, "default", "applied", api::PatchType::kApply,
                                 R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"applied"},"data":{"x":"2"}})", b);
  ASSERT_TRUE(forced.ok()) << forced.error().message();
  EXPECT_EQ((*forced)["data"]["x"], "2");
}

TEST(ResourceApi, ListPagesConsistentlyAndHonoursSelectors) {
  ApiFixture f;
  for (int i = 0; i < 10; ++i)
    ASSERT_TRUE(f.client().create(kConfigMaps, "default",
                                  configMap("cm-" + std::to_string(i), "default",
                                            {{"parity", i % 2 ? "odd" : "even"}}))
                    .ok());
  api::ListOptions o;
  o.limit = 3;
  auto first = f.client().list(kConfigMaps, "default", o);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ((*first)["items"].size(), 3u);
  EXPECT_EQ((*first)["metadata"]["remainingItemCount"], 7);
  std::string listRv = (*first)["metadata"]["resourceVersion"];
  // A change after the first page does not show up in later pages of this list.
  ASSERT_TRUE(f.client().create(kConfigMaps, "default", configMap("cm-99")).ok());
  ASSERT_TRUE(f.client().remove(kConfigMaps, "default", "cm-8").ok());
  std::vector<std::string> all = names(*first);
  std::string cont = (*first)["metadata"]["continue"];
  while (!cont.empty()) {
    o.continueToken = cont;
    auto page = f.client().list(kConfigMaps, "default", o);
    ASSERT_TRUE(page.ok()) << page.error().message();
    EXPECT_EQ((*page)["metadata"]["resourceVersion"], listRv);
    for (auto& n : names(*page)) all.push_back(n);
    cont = getString((*page)["metadata"], "continue");
  }
  EXPECT_EQ(all.size(), 10u);
  EXPECT_NE(std::find(all.begin(), all.end(), "cm-8"), all.end());
  EXPECT_EQ(std::find(all.begin(), all.end(), "cm-99"), all.end());

  api::ListOptions sel;
  sel.labelSelector = "parity in (odd),parity!=even";
  EXPECT_EQ((*f.client().list(kConfigMaps, "default", sel))["items"].size(), 5u);
  sel.labelSelector = "!parity";
  EXPECT_EQ(names(*f.client().list(kConfigMaps, "default", sel)), std::vector<std::string>{"cm-99"});
  api::ListOptions fields;
  fields.fieldSelector = "metadata.name=cm-3";
  EXPECT_EQ(names(*f.client().list(kConfigMaps, "", fields)), std::vector<std::string>{"cm-3"});
  fields.fieldSelector = "spec.nodeName=x";
  auto bad = f.client().list(kConfigMaps, "", fields);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message(),
            "\"spec.nodeName\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\"");
  api::ListOptions podFields;
  podFields.fieldSelector = "spec.nodeNam=x";
  EXPECT_EQ(f.client().list(kPods, "", podFields).error().message(),
            "field label not supported: spec.nodeNam");
  api::ListOptions badLabels;
  badLabels.labelSelector = "a in (";
  EXPECT_EQ(f.client().list(kConfigMaps, "", badLabels).error().code(), ErrorCode::kBadRequest);
}

TEST(ResourceApi, ExactListAtAnOldRevisionAndExpiredContinue) {
  ApiFixture f;
  ASSERT_TRUE(f.client().create(kConfigMaps, "default", configMap("a")).ok());
  std::string rv = (*f.client().list(kConfigMaps, "default"))["metadata"]["resourceVersion"];
  ASSERT_TRUE(f.client().create(kConfigMaps, "default", configMap("b")).ok());
  api::ListOptions exact;
  exact.resourceVersion = rv;
  exact.resourceVersionMatch = "Exact";
  EXPECT_EQ(names(*f.client().list(kConfigMaps, "default", exact)), std::vector<std::string>{"a"});
  api::ListOptions forbidden;
  forbidden.resourceVersionMatch = "Exact";
  EXPECT_EQ(f.client().list(kConfigMaps, "default", forbidden).error().code(), ErrorCode::kBadRequest);

  api::ListOptions paged;
  paged.limit = 1;
  std::string cont = (*f.client().list(kConfigMaps, "default", paged))["metadata"]["continue"];
  ASSERT_TRUE(f.client().create(kConfigMaps, "default", configMap("c")).ok());
  ASSERT_TRUE(f.store().compact(*f.store().currentRevision()).ok());
  paged.continueToken = cont;
  auto expired = f.client().list(kConfigMaps, "default", paged);
  ASSERT_FALSE(expired.ok());
  EXPECT_EQ(expired.error().code(), ErrorCode::kExpired);
  paged.continueToken = "not-a-token!";
  EXPECT_EQ(f.client().list(kConfigMaps, "default", paged).error().code(), ErrorCode::kBadRequest);
}

TEST(ResourceApi, WatchDeliversChangesAndSelectorExits) {
  ApiFixture f;
  ASSERT_TRUE(f.client().create(kConfigMaps, "default", configMap("w", "default", {{"app", "x"}})).ok());
  std::string rv = (*f.client().list(kConfigMaps, "default"))["metadata"]["resourceVersion"];
  api::ListOptions o;
  o.resourceVersion = rv;
  o.labelSelector = "app=x";
  auto w = f.client().watch(kConfigMaps, "default", o);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(f.client().patch(kConfigMaps, "default", "w", api::PatchType::kMerge, R"({"data":{"k":"2"}})").ok());
  ASSERT_TRUE(f.client().patch(kConfigMaps, "default", "w", api::PatchType::kMerge,
                               R"({"metadata":{"labels":{"app":"y"}}})").ok());
  ASSERT_TRUE(f.client().create(kConfigMaps, "default", configMap("n", "default", {{"app", "x"}})).ok());
  auto events = drain(**w, 3);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].type, "MODIFIED");
  EXPECT_EQ(events[1].type, "DELETED");  // left the selector
  EXPECT_EQ(events[1].object["metadata"]["labels"]["app"], "x");
  EXPECT_EQ(events[2].type, "ADDED");
  EXPECT_EQ(events[2].object["metadata"]["name"], "n");

  // Without a resourceVersion the watch starts with the current state.
  api::ListOptions fromNow;
  auto w2 = f.client().watch(kConfigMaps, "default", fromNow);
  auto initial = drain(**w2, 2);
  ASSERT_EQ(initial.size(), 2u);
  EXPECT_EQ(initial[0].type, "ADDED");

  // sendInitialEvents ends its initial state with a bookmark.
  api::ListOptions list;
  list.sendInitialEvents = true;
  list.allowWatchBookmarks = true;
  list.resourceVersionMatch = "NotOlderThan";
  auto w3 = f.client().watch(kConfigMaps, "default", list);
  ASSERT_TRUE(w3.ok()) << w3.error().message();
  auto e3 = drain(**w3, 3);
  ASSERT_EQ(e3.size(), 3u);
  EXPECT_EQ(e3[2].type, "BOOKMARK");
  EXPECT_EQ(e3[2].object["metadata"]["annotations"]["k8s.io/initial-events-end"], "true");
}

TEST(ResourceApi, WatchFromACompactedRevisionGetsAnExpiredErrorEvent) {
  ApiFixture f;
  for (int i = 0; i < 1100; ++i)
    ASSERT_TRUE(f.client().create(kConfigMaps, "default", configMap("h-" + std::to_string(i))).ok());
  api::ListOptions o;
  o.resourceVersion = "2";
  auto w = f.client().watch(kConfigMaps, "default", o);
  ASSERT_TRUE(w.ok());
  auto events = drain(**w, 1);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type, "ERROR");
  EXPECT_EQ(events[0].object["code"], 410);
  EXPECT_EQ(events[0].object["reason"], "Expired");
}

TEST(ResourceApi, FinalizersHoldDeletionUntilRemoved) {
  ApiFixture f;
  Json cm = configMap("fin");
  cm["metadata"]["finalizers"] = {"example.com/hold"};
  ASSERT_TRUE(f.client().create(kConfigMaps, "default", cm).ok());
  auto deleting = f.client().remove(kConfigMaps, "default", "fin");
  ASSERT_TRUE(deleting.ok());
  Json live = *f.client().get(kConfigMaps, "default", "fin");
  EXPECT_TRUE(live["metadata"].contains("deletionTimestamp"));
  live["metadata"]["finalizers"] = Json::array();
  ASSERT_TRUE(f.client().update(kConfigMaps, "default", live).ok());
  auto gone = f.client().get(kConfigMaps, "default", "fin");
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().code(), ErrorCode::kNotFound);

  // Preconditions.
  ASSERT_TRUE(f.client().create(kConfigMaps, "default", configMap("pre")).ok());
  api::DeleteOptions d;
  d.preconditionUid = "wrong";
  auto pre = f.client().remove(kConfigMaps, "default", "pre", d);
  ASSERT_FALSE(pre.ok());
  EXPECT_EQ(pre.error().code(), ErrorCode::kConflict);
}

TEST(ResourceApi, DryRunStoresNothing) {
  ApiFixture f;
  api::WriteOptions dry;
  dry.dryRun = true;
  auto r = f.client().create(kConfigMaps, "default", configMap("dry"), dry);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)["metadata"]["name"], "dry");
  EXPECT_FALSE(f.client().get(kConfigMaps, "default", "dry").ok());
}

TEST(ResourceApi, ServicesGetDistinctClusterIpsAndNodePorts) {
  ApiFixture f;
  auto svc = [](const std::string& name, const std::string& type) {
    return Json{{"apiVersion", "v1"}, {"kind", "Service"},
                {"metadata", {{"name", name}}},
                {"spec", {{"type", type}, {"selector", {{"app", "x"}}},
                          {"ports", {{{"port", 80}}}}}}};
  };
  auto a = f.client().create(kServices, "default", svc("a", "ClusterIP"));
  auto b = f.client().create(kServices, "default", svc("b", "NodePort"));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE((*a)["spec"]["clusterIP"], (*b)["spec"]["clusterIP"]);
  int64_t np = (*b)["spec"]["ports"][0]["nodePort"];
  EXPECT_GE(np, 30000);
  EXPECT_LE(np, 32767);
  Json c = svc("c", "ClusterIP");
  c["spec"]["clusterIP"] = (*a)["spec"]["clusterIP"];
  auto dup = f.client().create(kServices, "default", c);
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().code(), ErrorCode::kInvalid);
  EXPECT_NE(dup.error().message().find("provided IP is already allocated"), std::string::npos);
}

TEST(ResourceApi, ServiceTypeChangesKeepAllocationsConsistent) {
  ApiFixture f;
  Json ext = {{"apiVersion", "v1"}, {"kind", "Service"}, {"metadata", {{"name", "ext"}}},
              {"spec", {{"type", "ExternalName"}, {"externalName", "example.com"}}}};
  Json created = *f.client().create(kServices, "default", ext);
  EXPECT_FALSE(created["spec"].contains("clusterIP"));
  Json toClusterIp = created;
  toClusterIp["spec"] = {{"type", "ClusterIP"}, {"selector", {{"app", "x"}}}, {"ports", {{{"port", 80}}}}};
  auto ip = f.client().update(kServices, "default", toClusterIp);
  ASSERT_TRUE(ip.ok()) << ip.error().message();
  EXPECT_FALSE(getString((*ip)["spec"], "clusterIP").empty());
  // NodePort -> ClusterIP drops the node port the client sent back unchanged.
  Json np = *ip;
  np["spec"]["type"] = "NodePort";
  Json withPort = *f.client().update(kServices, "default", np);
  ASSERT_NE(getInt(withPort["spec"]["ports"][0], "nodePort", 0), 0);
  withPort["spec"]["type"] = "ClusterIP";
  auto back = f.client().update(kServices, "default", withPort);
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_FALSE((*back)["spec"]["ports"][0].contains("nodePort"));
  EXPECT_EQ((*back)["spec"]["clusterIP"], (*ip)["spec"]["clusterIP"]);
}

TEST(ResourceApi, EventsAreServedInBothGroups) {
  ApiFixture f;
  Json ev = {{"apiVersion", "v1"},
             {"kind", "Event"},
             {"metadata", {{"name", "e1"}}},
             {"involvedObject", {{"kind", "Pod"}, {"name", "p"}, {"namespace", "default"}}},
             {"reason", "Started"},
             {"message", "started the container"},
             {"type", "Normal"}};
  ASSERT_TRUE(f.client().create({"", "v1", "events"}, "default", ev).ok());
  auto v1 = f.client().get({"events.k8s.io", "v1", "events"}, "default", "e1");
  ASSERT_TRUE(v1.ok()) << v1.error().message();
  EXPECT_EQ((*v1)["apiVersion"], "events.k8s.io/v1");
  EXPECT_EQ((*v1)["note"], "started the container");
  EXPECT_EQ((*v1)["regarding"]["name"], "p");
  api::ListOptions o;
  o.fieldSelector = "regarding.kind=Pod";
  EXPECT_EQ((*f.client().list({"events.k8s.io", "v1", "events"}, "default", o))["items"].size(), 1u);
  o.fieldSelector = "involvedObject.kind=Service";
  EXPECT_EQ((*f.client().list({"", "v1", "events"}, "default", o))["items"].size(), 0u);
}

TEST(ResourceApi, HorizontalPodAutoscalersConvertBetweenVersions) {
  ApiFixture f;
  Json hpa = {{"apiVersion", "autoscaling/v1"},
              {"kind", "HorizontalPodAutoscaler"},
              {"metadata", {{"name", "h"}}},
              {"spec", {{"scaleTargetRef", {{"apiVersion", "apps/v1"}, {"kind", "Deployment"}, {"name", "web"}}},
                        {"minReplicas", 1},
                        {"maxReplicas", 5},
                        {"targetCPUUtilizationPercentage", 70}}}};
  auto created = f.client().create({"autoscaling", "v1", "horizontalpodautoscalers"}, "default", hpa);
  ASSERT_TRUE(created.ok()) << created.error().message();
  EXPECT_EQ((*created)["spec"]["targetCPUUtilizationPercentage"], 70);
  auto v2 = f.client().get({"autoscaling", "v2", "horizontalpodautoscalers"}, "default", "h");
  ASSERT_TRUE(v2.ok());
  EXPECT_EQ((*v2)["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"], 70);
}

}  // namespace
}  // namespace nave::testing
