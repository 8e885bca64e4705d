// Test helper: a ClusterState from the API's YAML (Namespaces, Pods and NetworkPolicies, as
// `kubectl get -o yaml` shows them), keyed as the informers key them.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "common/yaml.h"
#include "network/netpol/cluster_state.h"

namespace nave::network::netpol::testing {

inline ClusterState stateOf(const std::string& yaml) {
  ClusterState state;
  auto docs = parseYamlDocuments(yaml);
  EXPECT_TRUE(docs.ok()) << docs.error().message();
  if (!docs.ok()) return state;
  for (Json& doc : *docs) {
    if (doc.is_null()) continue;
    const Json& meta = doc["metadata"];
    std::string key = meta.value("namespace", "") + "/" + meta.value("name", "");
    std::string kind = doc.value("kind", "");
    if (kind == "Pod") {
      state.pods[key] = parsePod(doc);
    } else if (kind == "Namespace") {
      state.namespaces[meta.value("name", "")] = parseNamespace(doc);
    } else {
      auto p = parsePolicy(doc);
      EXPECT_TRUE(p.ok()) << p.error().message();
      if (p.ok()) state.policies.insert_or_assign(key, std::move(*p));
    }
  }
  return state;
}

}  // namespace nave::network::netpol::testing
