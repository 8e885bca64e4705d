#include "network/dns/cluster/cluster_dns.h"

#include <arpa/inet.h>

#include <atomic>
#include <cassert>

#include "common/log.h"
#include "network/dns/dns_server.h"

namespace nave::dns {
namespace {

const client::Resource kServices{"", "v1", "services"};
const client::Resource kSlices{"discovery.k8s.io", "v1", "endpointslices"};
const client::Resource kNodes{"", "v1", "nodes"};

std::string ipString(uint32_t ip) {
  in_addr a{htonl(ip)};
  char buf[INET_ADDRSTRLEN];
  return ::inet_ntop(AF_INET, &a, buf, sizeof buf);
}

class ClusterDnsImpl : public ClusterDns {
 public:
  ClusterDnsImpl(client::Client& client, controllers::InformerFactory& informers,
                 ClusterDnsOptions o, std::string address)
      : client_(client),
        options_(std::move(o)),
        address_(std::move(address)),
        zone_(options_.clusterDomain, options_.clusterDns),
        sliceName_(std::string(kDnsServiceName) + "-" + options_.nodeName) {
    informers.informer(kServices).addObjectHandler([this](const Json* before, const Json* after) {
      const Json* o = after ? after : before;
      zone_.setService(controllers::Informer::keyOf(*o), after);
    });
    informers.informer(kNodes).addObjectHandler([this](const Json* before, const Json* after) {
      const Json* o = after ? after : before;
      zone_.setNode(getString(objectMember(*o, "metadata"), "name"), after);
    });
    informers.informer(client::kNamespaces)
        .addObjectHandler([this](const Json* before, const Json* after) {
          const Json* o = after ? after : before;
          zone_.setNamespace(getString(objectMember(*o, "metadata"), "name"), after != nullptr);
        });
    informers.informer(kSlices).addObjectHandler([this](const Json* before, const Json* after) {
      const Json* o = after ? after : before;
      std::string key = controllers::Informer::keyOf(*o);
      zone_.setEndpointSlice(key, after);
      // Someone removed or changed the node's slice: put it back.
      if (started_ && key == std::string(kDnsNamespace) + "/" + sliceName_ &&
          (!after || after->value("endpoints", Json()) != published_["endpoints"] ||
           after->value("ports", Json()) != published_["ports"])) {
        if (auto r = publish(); !r.ok())
          log::warning("cannot publish the node's kube-dns EndpointSlice",
                       {{"error", r.error().message()}});
      }
    });
  }
  ~ClusterDnsImpl() override { stop(); }

  Result<void> start() override {
    ForwarderOptions fo;
    // The cluster DNS itself as an upstream would forward queries in a loop (CoreDNS' `loop`
    // plugin stops with an error then); leave it out.
    for (const sockaddr_in& sa : readResolvConf(options_.resolvConf)) {
      std::string ip = ipString(ntohl(sa.sin_addr.s_addr));
      if (ip == address_ || ip == options_.clusterDns) {
        log::warning("the resolv.conf file names the cluster DNS itself: not forwarding to it",
                     {{"path", options_.resolvConf}, {"nameserver", ip}});
        continue;
      }
      fo.upstreams.push_back(sa);
    }
    auto forwarder = TRY(Forwarder::start(fo, cache_));
    DnsServerOptions so;
    so.address = address_;
    so.port = options_.port;
    server_ = TRY(DnsServer::start(so, zone_, cache_, std::move(forwarder)));
    TRY(publish());
    started_ = true;
    return {};
  }

  void stop() override {
    started_ = false;
    if (server_) server_->stop();
  }

 private:
  Result<void> publish() {
    Json node = TRY(client_.get(kNodes, "", options_.nodeName));
    Json slice = nodeDnsEndpointSlice(options_.nodeName,
                                      getString(objectMember(node, "metadata"), "uid"), address_);
    auto existing = client_.get(kSlices, kDnsNamespace, sliceName_);
    if (existing.ok()) {
      slice["metadata"]["resourceVersion"] = (*existing)["metadata"]["resourceVersion"];
      TRY(client_.update(kSlices, kDnsNamespace, slice));
    } else if (existing.error().is(ErrorCode::kNotFound)) {
      auto created = client_.create(kSlices, kDnsNamespace, slice);
      if (!created.ok() && !created.error().is(ErrorCode::kAlreadyExists))
        return std::move(created).error();
    } else {
      return std::move(existing).error();
    }
    published_ = std::move(slice);
    return {};
  }

  client::Client& client_;
  ClusterDnsOptions options_;
  std::string address_;
  ClusterZone zone_;
  ResponseCache cache_;
  std::string sliceName_;
  Json published_;  // written before started_ is set, then only on the informer's thread
  std::atomic<bool> started_{false};
  std::unique_ptr<DnsServer> server_;
};

}  // namespace

Json nodeDnsEndpointSlice(const std::string& nodeName, const std::string& nodeUid,
                          const std::string& address) {
  // As text: nlohmann's initializer lists cost kilobytes of code per object.
  std::string node = dumpJson(Json(nodeName));
  std::string text =
      R"({"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":)" +
      dumpJson(Json(std::string(kDnsServiceName) + "-" + nodeName)) + R"(,"namespace":")" +
      kDnsNamespace + R"(","labels":{"kubernetes.io/service-name":")" + kDnsServiceName +
      R"(","endpointslice.kubernetes.io/managed-by":"nave-agent"},"ownerReferences":[{"apiVersion":"v1","kind":"Node","name":)" +
      node + R"(,"uid":)" + dumpJson(Json(nodeUid)) +
      R"(}]},"addressType":"IPv4","endpoints":[{"addresses":[)" + dumpJson(Json(address)) +
      R"(],"conditions":{"ready":true,"serving":true,"terminating":false},"nodeName":)" + node +
      R"(}],"ports":[{"name":"dns","port":53,"protocol":"UDP"},{"name":"dns-tcp","port":53,"protocol":"TCP"}]})";
  auto parsed = parseJson(text);
  assert(parsed.ok());
  return std::move(parsed->value);
}

Result<std::unique_ptr<ClusterDns>> ClusterDns::create(client::Client& client,
                                                       controllers::InformerFactory& informers,
                                                       ClusterDnsOptions options) {
  std::string cidr = options.podCidr.substr(0, options.podCidr.find('/'));
  auto base = parseIpv4(cidr);
  if (!base) return Error(ErrorCode::kInvalid, "bad pod CIDR \"" + options.podCidr + "\"");
  if (!parseIpv4(options.clusterDns))
    return Error(ErrorCode::kInvalid, "bad cluster DNS address \"" + options.clusterDns + "\"");
  std::string gateway = ipString(*base + 1);
  return std::unique_ptr<ClusterDns>(
      new ClusterDnsImpl(client, informers, std::move(options), gateway));
}

}  // namespace nave::dns
