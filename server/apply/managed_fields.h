// metadata.managedFields in memory: one entry per manager, keyed like Kubernetes' managedfields
// package (manager, operation, subresource, and the API version for updaters; an applier keeps
// one entry whatever version it applies with).
#pragma once

#include <map>
#include <optional>
#include <string>

#include "common/json.h"
#include "common/result.h"
#include "common/time.h"
#include "server/apply/fieldpath.h"

namespace nave::apply {

inline constexpr std::string_view kOperationApply = "Apply";
inline constexpr std::string_view kOperationUpdate = "Update";

struct ManagerEntry {
  std::string manager;
  std::string operation;  // kOperationApply or kOperationUpdate
  std::string apiVersion;
  std::string subresource;
  std::optional<WallTime> time;
  FieldSet fields;

  bool applied() const { return operation == kOperationApply; }
  // The identity of the entry: {"manager":"m","operation":"Update","apiVersion":"v1"}, as
  // Kubernetes' BuildManagerIdentifier writes it (no apiVersion for appliers).
  std::string identifier() const;
  // How conflicts name the manager: "m", "m" using apps/v1, "m" with subresource "status" ...
  std::string printable() const;
};

// Keyed by ManagerEntry::identifier().
using ManagedFields = std::map<std::string, ManagerEntry>;

// Decodes a managedFields list (null means none). kBadRequest for anything Kubernetes would
// refuse: an operation other than Apply/Update, an empty apiVersion, a fieldsType other than
// FieldsV1, a malformed FieldsV1 trie or time.
Result<ManagedFields> decodeManagedFields(const Json& list);

// The list as Kubernetes orders it: appliers first, then by time, manager, apiVersion and
// subresource. Empty when there are no managers.
Json encodeManagedFields(const ManagedFields& managed);

// True for the values a client sends to wipe managedFields: [] or [{}].
bool isResetManagedFields(const Json& list);

// Merges the oldest update entries into per-version "ancient-changes" entries until at most
// `maxUpdaters` update entries remain.
void capUpdateManagers(ManagedFields& managed, size_t maxUpdaters);

}  // namespace nave::apply
