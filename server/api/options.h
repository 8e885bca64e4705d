// Options of API operations, shared by the HTTP front end and the in-process client.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace nave::api {

// Who is asking, and where warnings for the response go.
struct RequestContext {
  std::string user = "system:admin";
  std::vector<std::string> groups = {"system:masters", "system:authenticated"};
  std::string userAgent;
  std::vector<std::string> warnings;
};

struct GetOptions {
  std::string resourceVersion;  // "" = latest (consistent), "0" = any
};

struct ListOptions {
  std::string labelSelector;
  std::string fieldSelector;
  int64_t limit = 0;
  std::string continueToken;
  std::string resourceVersion;
  std::string resourceVersionMatch;  // "", "NotOlderThan", "Exact"
  // Watch only.
  bool allowWatchBookmarks = false;
  std::optional<bool> sendInitialEvents;
  int64_t timeoutSeconds = 0;  // 0: the server's default
};

enum class FieldValidation { kIgnore, kWarn, kStrict };

struct WriteOptions {
  bool dryRun = false;
  std::string fieldManager;  // "" = derived from the User-Agent
  FieldValidation fieldValidation = FieldValidation::kWarn;
  bool force = false;  // server-side apply: take ownership of conflicting fields
};

struct DeleteOptions {
  std::optional<int64_t> gracePeriodSeconds;
  std::string propagationPolicy;  // "", "Orphan", "Background", "Foreground"
  std::optional<bool> orphanDependents;
  std::optional<std::string> preconditionUid;
  std::optional<std::string> preconditionResourceVersion;
  bool dryRun = false;
};

enum class PatchType { kJson, kMerge, kStrategic, kApply };

}  // namespace nave::api
