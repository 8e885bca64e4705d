#include "server/client/in_process_client.h"

#include "server/api/status.h"

namespace nave::client {
namespace {

class InProcessWatch : public Watch {
 public:
  explicit InProcessWatch(std::unique_ptr<api::WatchStream> stream) : stream_(std::move(stream)) {}
  int fd() const override { return stream_->fd(); }
  bool next(std::vector<WatchEvent>& out) override {
    std::vector<api::WatchEvent> events;
    bool alive = stream_->poll(events);
    for (auto& e : events) {
      std::string type(api::watchEventTypeName(e.type));
      if (e.object) out.push_back({type, api::ResourceApi::toServed(stream_->type(), e.object->object)});
      else out.push_back({type, std::move(e.special)});
    }
    return alive;
  }

 private:
  std::unique_ptr<api::WatchStream> stream_;
};

class InProcessClient : public Client {
 public:
  InProcessClient(api::ResourceApi& api, std::string user, std::vector<std::string> groups,
                  std::string fieldManager)
      : api_(api), user_(std::move(user)), groups_(std::move(groups)), manager_(std::move(fieldManager)) {}

  Result<Json> get(const Resource& r, std::string_view ns, std::string_view name,
                   std::string_view subresource) override {
    auto type = TRY(find(r));
    auto ctx = context();
    return api_.get(ctx, *type, ns, name, {}, subresource);
  }

  Result<Json> list(const Resource& r, std::string_view ns, const api::ListOptions& options) override {
    auto type = TRY(find(r));
    auto ctx = context();
    api::ListResult l = TRY(api_.list(ctx, *type, ns, options));
    Json items = Json::array();
    for (const auto& o : l.items) items.push_back(api::ResourceApi::toServed(*type, o->object));
    Json meta = {{"resourceVersion", std::to_string(l.revision)}};
    if (!l.continueToken.empty()) meta["continue"] = l.continueToken;
    if (l.remainingItemCount) meta["remainingItemCount"] = *l.remainingItemCount;
    return Json{{"apiVersion", type->apiVersion()},
                {"kind", type->kind + "List"},
                {"metadata", meta},
                {"items", std::move(items)}};
  }

  Result<std::unique_ptr<Watch>> watch(const Resource& r, std::string_view ns,
                                       const api::ListOptions& options) override {
    auto type = TRY(find(r));
    auto ctx = context();
    auto stream = TRY(api_.watch(ctx, *type, ns, options));
    return std::unique_ptr<Watch>(new InProcessWatch(std::move(stream)));
  }

  Result<Json> create(const Resource& r, std::string_view ns, const Json& object,
                      const api::WriteOptions& options, std::string_view subresource) override {
    auto type = TRY(find(r));
    auto ctx = context();
    std::string parent = subresource.empty() ? "" : getString(object.value("metadata", Json::object()), "name");
    auto res = TRY(api_.create(ctx, *type, ns, api::Body{object, {}}, withManager(options), parent, subresource));
    return std::move(res.object);
  }

  Result<Json> update(const Resource& r, std::string_view ns, const Json& object,
                      const api::WriteOptions& options, std::string_view subresource) override {
    auto type = TRY(find(r));
    auto ctx = context();
    std::string name = getString(object.value("metadata", Json::object()), "name");
    auto res = TRY(api_.update(ctx, *type, ns, name, api::Body{object, {}}, withManager(options), subresource));
    return std::move(res.object);
  }

  Result<Json> patch(const Resource& r, std::string_view ns, std::string_view name,
                     api::PatchType pt, std::string_view patch, const api::WriteOptions& options,
                     std::string_view subresource) override {
    auto type = TRY(find(r));
    auto ctx = context();
    auto res = TRY(api_.patch(ctx, *type, ns, name, pt, patch, withManager(options), subresource));
    return std::move(res.object);
  }

  Result<Json> remove(const Resource& r, std::string_view ns, std::string_view name,
                      const api::DeleteOptions& options) override {
    auto type = TRY(find(r));
    auto ctx = context();
    auto res = TRY(api_.remove(ctx, *type, ns, name, options));
    return std::move(res.object);
  }

 private:
  Result<registry::ResourceTypePtr> find(const Resource& r) {
    auto t = api_.types().find(r.group, r.version, r.resource);
    if (!t) return Error(ErrorCode::kNotFound, "the server could not find the requested resource");
    return t;
  }
  api::RequestContext context() const {
    api::RequestContext ctx;
    ctx.user = user_;
    ctx.groups = groups_;
    ctx.userAgent = manager_;
    return ctx;
  }
  api::WriteOptions withManager(api::WriteOptions o) const {
    if (o.fieldManager.empty()) o.fieldManager = manager_;
    return o;
  }

  api::ResourceApi& api_;
  std::string user_;
  std::vector<std::string> groups_;
  std::string manager_;
};

}  // namespace

std::unique_ptr<Client> newInProcessClient(api::ResourceApi& api, std::string user,
                                           std::vector<std::string> groups,
                                           std::string fieldManager) {
  return std::make_unique<InProcessClient>(api, std::move(user), std::move(groups),
                                           std::move(fieldManager));
}

}  // namespace nave::client
