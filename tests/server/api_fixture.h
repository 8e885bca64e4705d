// A real API stack for integration tests: SQLite store in a temporary directory, watch cache,
// built-in types, ResourceApi, and an in-process client.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "server/api/resource_api.h"
#include "server/api/service_allocator.h"
#include "server/cache/watch_cache.h"
#include "server/client/in_process_client.h"
#include "server/registry/builtin_types.h"
#include "server/registry/type_registry.h"
#include "storage/sqlite_store.h"

namespace nave::testing {

class ApiFixture {
 public:
  ApiFixture() {
    char tmpl[] = "/tmp/nave-api-test-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    storage::SqliteOptions so;
    so.path = dir_ + "/state.db";
    so.compactIntervalSeconds = 0;
    store_ = std::move(*storage::openSqliteStore(so));
    cache_ = std::move(*cache::WatchCache::start(*store_));
    allocator_ = std::move(*api::ServiceAllocator::create("10.43.0.0/16", *cache_));
    registry::StrategyDeps deps;
    auto* a = allocator_.get();
    deps.allocateServiceAddresses = [a](Json& s) { return a->allocate(s); };
    deps.updateServiceAddresses = [a](Json& s, const Json& o) { return a->update(s, o); };
    deps.listStorageClasses = [this]() -> Result<Json> {
      return client_->list(client::Resource{"storage.k8s.io", "v1", "storageclasses"}, "");
    };
    registry::registerBuiltinTypes(types_, deps);
    api_ = std::make_unique<api::ResourceApi>(*store_, *cache_, types_);
    client_ = client::newInProcessClient(*api_, "system:admin", {"system:masters"}, "test");
    for (const char* ns : {"default", "other"})
      (void)client_->create(client::kNamespaces, "",
                            Json{{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns}}}});
  }
  ~ApiFixture() {
    client_.reset();
    api_.reset();
    cache_.reset();
    allocator_.reset();
    store_.reset();
    std::string cmd = "rm -rf '" + dir_ + "'";
    (void)std::system(cmd.c_str());
  }

  client::Client& client() { return *client_; }
  api::ResourceApi& api() { return *api_; }
  registry::TypeRegistry& types() { return types_; }
  cache::WatchCache& cache() { return *cache_; }
  storage::Store& store() { return *store_; }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<cache::WatchCache> cache_;
  std::unique_ptr<api::ServiceAllocator> allocator_;
  registry::TypeRegistry types_;
  std::unique_ptr<api::ResourceApi> api_;
  std::unique_ptr<client::Client> client_;
};

inline Json configMap(const std::string& name, const std::string& ns = "default",
                      Json labels = Json::object()) {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", {{"name", name}, {"namespace", ns}, {"labels", labels}}},
          {"data", {{"k", "v"}}}};
}

inline const client::Resource kConfigMaps{"", "v1", "configmaps"};
inline const client::Resource kDeployments{"apps", "v1", "deployments"};
inline const client::Resource kPods{"", "v1", "pods"};
inline const client::Resource kServices{"", "v1", "services"};

}  // namespace nave::testing
