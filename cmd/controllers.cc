// The controllers and the scheduler `nave server` runs (each group under its Lease). One line
// per controller, in the order they are constructed and started.
#include <algorithm>

#include "cmd/commands.h"
#include "network/proxy/servicelb_controller.h"
#include "server/controllers/batch/cronjob_controller.h"
#include "server/controllers/batch/job_controller.h"
#include "server/controllers/batch/ttl_after_finished_controller.h"
#include "server/controllers/core/disruption_controller.h"
#include "server/controllers/core/garbage_collector.h"
#include "server/controllers/core/hpa_controller.h"
#include "server/controllers/core/node_lifecycle_controller.h"
#include "server/controllers/core/pod_gc_controller.h"
#include "server/controllers/core/resource_quota_controller.h"
#include "server/controllers/core/service_account_controller.h"
#include "server/controllers/nodeipam/node_ipam_controller.h"
#include "server/controllers/workloads/deployment_controller.h"
#include "server/controllers/workloads/replicaset_controller.h"
#include "server/controllers/sets/daemonset_controller.h"
#include "server/controllers/sets/statefulset_controller.h"
#include "server/controllers/endpoints/endpoints_controller.h"
#include "server/controllers/endpoints/endpointslice_controller.h"
#include "server/controllers/storage/local_path_provisioner.h"
#include "server/controllers/storage/persistent_volume_controller.h"
#include "server/controllers/storage/protection_controllers.h"
#include "network/ingress/controller/ingress_status_controller.h"
#include "server/scheduler/scheduler.h"

namespace nave::cmd {

void addControllers(ServerConfig& config) {
  using controllers::ControllerContext;
  auto& c = config.controllers;
  auto& s = config.schedulers;
  namespace batch = controllers::batch;
  c.push_back({"garbage-collector", [](ControllerContext& ctx) {
                 return std::make_unique<controllers::GarbageCollector>(ctx);
               }});
  c.push_back({"serviceaccount", [](ControllerContext& ctx) {
                 return std::make_unique<controllers::ServiceAccountController>(ctx);
               }});
  c.push_back({"node-lifecycle", [](ControllerContext& ctx) {
                 return std::make_unique<controllers::NodeLifecycleController>(ctx);
               }});
  // The server checked the CIDRs (a bad --cluster-cidr stops it before this).
  auto ipam = controllers::NodeIpamOptions::parse(config.clusterCidr, config.serviceCidr);
  if (ipam.ok()) {
    c.push_back({"nodeipam", [o = *ipam](ControllerContext& ctx) {
                   return std::make_unique<controllers::NodeIpamController>(ctx, o);
                 }});
  }
  c.push_back({"disruption", [](ControllerContext& ctx) {
                 return std::make_unique<controllers::DisruptionController>(ctx);
               }});
  c.push_back({"podgc", [](ControllerContext& ctx) {
                 return std::make_unique<controllers::PodGcController>(ctx);
               }});
  c.push_back({"resourcequota", [](ControllerContext& ctx) {
                 return std::make_unique<controllers::ResourceQuotaController>(ctx);
               }});
  c.push_back({"replicaset", [](ControllerContext& ctx) {
                 return std::make_unique<controllers::workloads::ReplicaSetController>(ctx);
               }});
  c.push_back({"deployment", [](ControllerContext& ctx) {
                 return std::make_unique<controllers::workloads::DeploymentController>(ctx);
               }});
  c.push_back({"statefulset", [](ControllerContext& ctx) {
                 return std::make_unique<controllers::StatefulSetController>(ctx);
               }});
  c.push_back({"daemonset", [](ControllerContext& ctx) {
                 return std::make_unique<controllers::DaemonSetController>(ctx);
               }});
  c.push_back({"endpoint", [](ControllerContext& ctx) {
                 return std::make_unique<controllers::EndpointsController>(ctx);
               }});
  c.push_back({"endpointslice", [](ControllerContext& ctx) {
                 return std::make_unique<controllers::EndpointSliceController>(ctx);
               }});
  c.push_back({"persistentvolume-binder", [](ControllerContext& ctx) {
                 return std::make_unique<controllers::PersistentVolumeController>(ctx);
               }});
  if (!config.isDisabled("local-storage"))
    c.push_back({"local-path-provisioner", [](ControllerContext& ctx) {
                   return std::make_unique<controllers::LocalPathProvisioner>(ctx);
                 }});
  c.push_back({"pvc-protection", [](ControllerContext& ctx) {
                 return std::make_unique<controllers::PvcProtectionController>(ctx);
               }});
  c.push_back({"pv-protection", [](ControllerContext& ctx) {
                 return std::make_unique<controllers::PvProtectionController>(ctx);
               }});
  c.push_back({"job", [](ControllerContext& ctx) { return std::make_unique<batch::JobController>(ctx); }});
  c.push_back({"cronjob", [](ControllerContext& ctx) { return std::make_unique<batch::CronJobController>(ctx); }});
  c.push_back({"ttl-after-finished", [](ControllerContext& ctx) {
                 return std::make_unique<batch::TtlAfterFinishedController>(ctx);
               }});
  c.push_back({"horizontalpodautoscaling", [](ControllerContext& ctx) {
                 return std::make_unique<controllers::HorizontalPodAutoscalerController>(ctx);
               }});
  if (!config.isDisabled("servicelb"))
    c.push_back({"servicelb", [](ControllerContext& ctx) {
                   return std::make_unique<network::proxy::ServiceLbController>(ctx);
                 }});
  // status.loadBalancer of the built-in ingress controller's Ingresses (k3s: Traefik + ServiceLB).
  if (!config.isDisabled("ingress")) {
    c.push_back({"ingress-status", [](ControllerContext& ctx) {
                   return std::make_unique<ingress::IngressStatusController>(ctx);
                 }});
  }
  s.push_back({"scheduler", [](ControllerContext& ctx) { return std::make_unique<scheduler::Scheduler>(ctx); }});
}

}  // namespace nave::cmd
