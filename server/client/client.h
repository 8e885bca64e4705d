// Client: how every component other than the API server (controllers, scheduler, agent, proxy,
// DNS) reads and writes API objects. Two implementations with the same semantics: in-process
// (calls the REST layer directly, no HTTP, no TLS) and remote (HTTPS to an API server, for
// agents on other machines). Errors carry the API's codes (a 409 is kConflict, a 404
// kNotFound...) and messages.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/json.h"
#include "common/result.h"
#include "server/api/options.h"

namespace nave::client {

// A resource: group ("" for core), version and plural name.
struct Resource {
  std::string group;
  std::string version;
  std::string resource;
};

struct WatchEvent {
  std::string type;  // ADDED, MODIFIED, DELETED, BOOKMARK, ERROR
  Json object;
};

class Watch {
 public:
  virtual ~Watch() = default;
  // Readable when next() may have events (poll it with other fds).
  virtual int fd() const = 0;
  // Appends the events available now, without blocking. Returns false once the watch has
  // ended; callers re-list or re-watch from the last resourceVersion they saw.
  virtual bool next(std::vector<WatchEvent>& out) = 0;
};

class Client {
 public:
  virtual ~Client() = default;

  virtual Result<Json> get(const Resource& r, std::string_view ns, std::string_view name,
                           std::string_view subresource = "") = 0;
  // Returns the list object ({"items": [...], "metadata": {"resourceVersion": ...}}).
  virtual Result<Json> list(const Resource& r, std::string_view ns,
                            const api::ListOptions& options = {}) = 0;
  virtual Result<std::unique_ptr<Watch>> watch(const Resource& r, std::string_view ns,
                                               const api::ListOptions& options) = 0;
  virtual Result<Json> create(const Resource& r, std::string_view ns, const Json& object,
                              const api::WriteOptions& options = {},
                              std::string_view subresource = "") = 0;
  virtual Result<Json> update(const Resource& r, std::string_view ns, const Json& object,
                              const api::WriteOptions& options = {},
                              std::string_view subresource = "") = 0;
  virtual Result<Json> patch(const Resource& r, std::string_view ns, std::string_view name,
                             api::PatchType type, std::string_view patch,
                             const api::WriteOptions& options = {},
                             std::string_view subresource = "") = 0;
  virtual Result<Json> remove(const Resource& r, std::string_view ns, std::string_view name,
                              const api::DeleteOptions& options = {}) = 0;
};

// Well-known resources.
inline const Resource kNamespaces{"", "v1", "namespaces"};
inline const Resource kCustomResourceDefinitions{"apiextensions.k8s.io", "v1",
                                                 "customresourcedefinitions"};

}  // namespace nave::client
