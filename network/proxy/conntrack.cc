#include "network/proxy/conntrack.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <netinet/in.h>

#include <cstring>

namespace nave::network::proxy {

namespace {

// An original-direction tuple, in network byte order, as ctnetlink carries it.
struct Tuple {
  uint32_t src = 0, dst = 0;
  uint8_t proto = 0;
  uint16_t sport = 0, dport = 0;
};

struct Flow {
  Tuple original;
  uint32_t replySource = 0;  // the endpoint the flow was translated to
};

// Nested attributes by type (up to CTA_MAX); null when absent.
template <int Max>
struct Attrs {
  const nlattr* at[Max + 1] = {};
  bool parse(const nlattr* nest) {
    return mnl_attr_parse_nested(
               nest,
               [](const nlattr* a, void* data) {
                 auto* self = static_cast<Attrs*>(data);
                 int type = mnl_attr_get_type(a);
                 if (type <= Max) self->at[type] = a;
                 return MNL_CB_OK;
               },
               this) >= 0;
  }
};

bool parseTuple(const nlattr* nest, Tuple& t) {
  Attrs<CTA_TUPLE_MAX> tuple;
  Attrs<CTA_IP_MAX> ip;
  Attrs<CTA_PROTO_MAX> proto;
  if (!nest || !tuple.parse(nest) || !tuple.at[CTA_TUPLE_IP] || !tuple.at[CTA_TUPLE_PROTO] ||
      !ip.parse(tuple.at[CTA_TUPLE_IP]) || !proto.parse(tuple.at[CTA_TUPLE_PROTO]))
    return false;
  if (!ip.at[CTA_IP_V4_SRC] || !ip.at[CTA_IP_V4_DST] || !proto.at[CTA_PROTO_NUM]) return false;
  t.src = mnl_attr_get_u32(ip.at[CTA_IP_V4_SRC]);
  t.dst = mnl_attr_get_u32(ip.at[CTA_IP_V4_DST]);
  t.proto = mnl_attr_get_u8(proto.at[CTA_PROTO_NUM]);
  if (proto.at[CTA_PROTO_SRC_PORT]) t.sport = mnl_attr_get_u16(proto.at[CTA_PROTO_SRC_PORT]);
  if (proto.at[CTA_PROTO_DST_PORT]) t.dport = mnl_attr_get_u16(proto.at[CTA_PROTO_DST_PORT]);
  return true;
}

nlmsghdr* header(char* buf, uint16_t type, uint16_t flags) {
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = static_cast<uint16_t>((NFNL_SUBSYS_CTNETLINK << 8) | type);
  nlh->nlmsg_flags = flags;
  auto* nfg = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg)));
  nfg->nfgen_family = AF_INET;
  nfg->version = NFNETLINK_V0;
  nfg->res_id = 0;
  return nlh;
}

}  // namespace

Result<size_t> deleteStaleUdpFlows(NetlinkSocket& nl, const std::vector<StaleFlow>& flows) {
  if (flows.empty()) return size_t{0};
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  std::vector<Tuple> doomed;
  TRY(nl.dump(header(buf.data(), IPCTNL_MSG_CT_GET, 0), [&](const nlmsghdr* m) {
    Attrs<CTA_MAX> ct;
    if (mnl_attr_parse(
            m, sizeof(nfgenmsg),
            [](const nlattr* a, void* data) {
              auto* self = static_cast<Attrs<CTA_MAX>*>(data);
              int type = mnl_attr_get_type(a);
              if (type <= CTA_MAX) self->at[type] = a;
              return MNL_CB_OK;
            },
            &ct) < 0)
      return false;
    Flow f;
    Tuple reply;
    if (!parseTuple(ct.at[CTA_TUPLE_ORIG], f.original) ||
        !parseTuple(ct.at[CTA_TUPLE_REPLY], reply))
      return true;  // not IPv4
    if (f.original.proto != IPPROTO_UDP) return true;
    f.replySource = reply.src;
    for (const StaleFlow& s : flows) {
      bool anyDestination = s.destination.value == 0;
      if (f.original.dport == htons(s.port) && f.replySource == s.endpoint.networkOrder() &&
          (anyDestination || f.original.dst == s.destination.networkOrder())) {
        doomed.push_back(f.original);
        break;
      }
    }
    return true;
  }));
  size_t deleted = 0;
  for (const Tuple& t : doomed) {
    nlmsghdr* nlh = header(buf.data(), IPCTNL_MSG_CT_DELETE, 0);
    nlattr* tuple = mnl_attr_nest_start(nlh, CTA_TUPLE_ORIG);
    nlattr* ip = mnl_attr_nest_start(nlh, CTA_TUPLE_IP);
    mnl_attr_put_u32(nlh, CTA_IP_V4_SRC, t.src);
    mnl_attr_put_u32(nlh, CTA_IP_V4_DST, t.dst);
    mnl_attr_nest_end(nlh, ip);
    nlattr* proto = mnl_attr_nest_start(nlh, CTA_TUPLE_PROTO);
    mnl_attr_put_u8(nlh, CTA_PROTO_NUM, t.proto);
    mnl_attr_put_u16(nlh, CTA_PROTO_SRC_PORT, t.sport);
    mnl_attr_put_u16(nlh, CTA_PROTO_DST_PORT, t.dport);
    mnl_attr_nest_end(nlh, proto);
    mnl_attr_nest_end(nlh, tuple);
    auto r = nl.request(nlh);
    if (r.ok())
      ++deleted;
    else if (!r.error().is(ErrorCode::kNotFound))
      return std::move(r).error().context("delete a conntrack entry");
  }
  return deleted;
}

}  // namespace nave::network::proxy
