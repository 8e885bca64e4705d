// Helpers of the set controllers' tests: objects from YAML, and a fake kubelet's status writes.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "common/time.h"
#include "common/yaml.h"
#include "server/client/client.h"

namespace nave::testing {

inline const client::Resource kTestPods{"", "v1", "pods"};
inline const client::Resource kTestRevisions{"apps", "v1", "controllerrevisions"};
inline const client::Resource kTestEvents{"", "v1", "events"};

inline Json yaml(const std::string& text) {
  auto r = parseYaml(text);
  EXPECT_TRUE(r.ok()) << text;
  return r.ok() ? *r : Json();
}

// What the kubelet would report: the pod Running and Ready (or not), or in a final phase.
inline void setPodStatus(client::Client& c, const std::string& ns, const std::string& name,
                         const std::string& phase, bool ready) {
  std::string now = formatRfc3339(std::chrono::system_clock::now());
  Json status = {{"phase", phase},
                 {"conditions", Json::array({{{"type", "Ready"},
                                              {"status", ready ? "True" : "False"},
                                              {"lastTransitionTime", now}}})}};
  auto r = c.patch(kTestPods, ns, name, api::PatchType::kMerge, dumpJson(Json{{"status", status}}),
                   {}, "status");
  ASSERT_TRUE(r.ok()) << name << ": " << r.error().message();
}

inline std::optional<Json> getPod(client::Client& c, const std::string& ns,
                                  const std::string& name) {
  auto r = c.get(kTestPods, ns, name);
  if (!r.ok()) return std::nullopt;
  return *r;
}

inline bool deletingOrGone(client::Client& c, const std::string& ns, const std::string& name) {
  auto p = getPod(c, ns, name);
  return !p || p->at("metadata").contains("deletionTimestamp");
}

// The messages of the events about an object.
inline std::vector<std::string> eventMessages(client::Client& c, const std::string& ns,
                                              const std::string& name) {
  std::vector<std::string> out;
  auto list = c.list(kTestEvents, ns);
  if (!list.ok()) return out;
  for (const Json& e : (*list)["items"])
    if (getString(e["involvedObject"], "name") == name)
      out.push_back(getString(e, "reason") + ": " + getString(e, "message"));
  return out;
}

}  // namespace nave::testing
