#include "network/flannel/lease.h"

namespace nave::network::flannel {

std::optional<Lease> leaseOf(const Json& node) {
  const Json& md = objectMember(node, "metadata");
  const Json& annotations = objectMember(md, "annotations");
  Lease lease;
  lease.node = getString(md, "name");
  auto cidr = Ipv4Prefix::parse(getString(objectMember(node, "spec"), "podCIDR"));
  if (!cidr.ok()) return std::nullopt;
  lease.podCidr = Ipv4Prefix{cidr->network(), cidr->length};

  std::string ip = getString(annotations, kPublicIpAnnotation);
  if (ip.empty()) {
    const Json* addresses = findMember(objectMember(node, "status"), "addresses");
    for (size_t i = 0; addresses && addresses->is_array() && i < addresses->size(); ++i) {
      if (getString((*addresses)[i], "type") == "InternalIP") {
        ip = getString((*addresses)[i], "address");
        break;
      }
    }
  }
  auto address = Ipv4Address::parse(ip);
  if (!address.ok()) return std::nullopt;
  lease.publicIp = *address;

  lease.backendType = getString(annotations, kBackendTypeAnnotation);
  // backend-data of vxlan: {"VNI":1,"VtepMAC":"aa:bb:cc:dd:ee:ff"}.
  auto data = parseJson(getString(annotations, kBackendDataAnnotation));
  if (data.ok() && data->value.is_object()) {
    if (auto mac = netlink::MacAddress::parse(getString(data->value, "VtepMAC")); mac.ok())
      lease.vtepMac = *mac;
  }
  return lease;
}

}  // namespace nave::network::flannel
