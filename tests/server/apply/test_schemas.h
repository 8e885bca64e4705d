// Small schemas shaped like Kubernetes' ConfigMap, Pod and Deployment (and a custom resource
// with free-form parts) for the field management tests; independent of server/schema/defs.
#pragma once

#include <gtest/gtest.h>

#include "common/yaml.h"
#include "server/schema/schema.h"

namespace nave::apply::testing {

inline constexpr std::string_view kMetaSource = R"(
package io.k8s.apimachinery.pkg.apis.meta.v1
type Time = time "A timestamp."
type ObjectMeta "Object metadata."
  name string
  generateName string
  namespace string
  uid string
  resourceVersion string
  generation int64
  creationTimestamp Time
  labels map[string]
  annotations map[string]
  ownerReferences []OwnerReference merge=uid strategy=merge list=map keys=uid
  finalizers []string strategy=merge list=set
  managedFields []ManagedFieldsEntry list=atomic
type ListMeta "List metadata."
  resourceVersion string
type OwnerReference map=atomic
  apiVersion! string
  kind! string
  name! string
  uid! string
  controller bool
type ManagedFieldsEntry
  manager string
  operation string
  apiVersion string
  time Time
  fieldsType string
  fieldsV1 object
  subresource string
type LabelSelector map=atomic
  matchLabels map[string]
  matchExpressions []LabelSelectorRequirement list=atomic
type LabelSelectorRequirement
  key! string
  operator! string
  values []string list=atomic

package io.k8s.apimachinery.pkg.util.intstr
type IntOrString = intstr "An int or a string."

package io.k8s.apimachinery.pkg.runtime
type RawExtension = any "Embedded JSON."
)";

inline constexpr std::string_view kCoreSource = R"(
package io.k8s.api.core.v1
use meta = io.k8s.apimachinery.pkg.apis.meta.v1
use intstr = io.k8s.apimachinery.pkg.util.intstr

kind ConfigMap v1
  data map[string]
  binaryData map[bytes]
  immutable bool

kind Pod v1
  spec PodSpec
  status PodStatus

type PodTemplateSpec
  metadata meta.ObjectMeta
  spec PodSpec

type PodSpec
  containers! []Container merge=name strategy=merge list=map keys=name
  nodeSelector map[string] map=atomic
  tolerations []Toleration
  restartPolicy string
  hostAliases []HostAlias merge=ip strategy=merge

type Container
  name! string
  image string
  args []string list=atomic
  command []string
  ports []ContainerPort merge=containerPort strategy=merge list=map keys=containerPort,protocol
  env []EnvVar merge=name strategy=merge list=map keys=name
  resources ResourceRequirements

type ContainerPort
  name string
  containerPort! int32
  protocol string default="TCP"

type EnvVar
  name! string
  value string

type ResourceRequirements
  limits map[quantity]
  requests map[quantity]

type Toleration
  key string
  operator string

type HostAlias
  ip string
  hostnames []string strategy=merge

type PodStatus
  phase string
  conditions []PodCondition merge=type strategy=merge list=map keys=type

type PodCondition
  type! string
  status! string
)";

inline constexpr std::string_view kAppsSource = R"(
package io.k8s.api.apps.v1
use meta = io.k8s.apimachinery.pkg.apis.meta.v1
use core = io.k8s.api.core.v1
use intstr = io.k8s.apimachinery.pkg.util.intstr
use runtime = io.k8s.apimachinery.pkg.runtime

kind Deployment apps/v1
  spec DeploymentSpec
  status DeploymentStatus

type DeploymentSpec
  replicas int32
  selector! meta.LabelSelector
  template! core.PodTemplateSpec
  strategy DeploymentStrategy strategy=retainKeys
  paused bool
  minReadySeconds int32

type DeploymentStrategy
  type string
  rollingUpdate RollingUpdateDeployment

type RollingUpdateDeployment
  maxSurge intstr.IntOrString
  maxUnavailable intstr.IntOrString

type DeploymentStatus
  replicas int32
  readyReplicas int32

kind ControllerRevision apps/v1
  data runtime.RawExtension
  revision int64
)";

inline constexpr std::string_view kWidgetSource = R"(
package com.example.v1
use meta = io.k8s.apimachinery.pkg.apis.meta.v1

kind Widget example.com/v1
  spec WidgetSpec
  extra any

type WidgetSpec
  size int64
  config object
  items []string
)";

// The schemas above, parsed and validated once.
inline const schema::SchemaSet& testSchemas() {
  static const schema::SchemaSet* set = [] {
    auto* s = new schema::SchemaSet();
    for (std::string_view src : {kMetaSource, kCoreSource, kAppsSource, kWidgetSource}) {
      auto r = s->addSource(src, "test");
      if (!r.ok()) ADD_FAILURE() << r.error().message();
    }
    auto v = s->validate();
    if (!v.ok()) ADD_FAILURE() << v.error().message();
    return s;
  }();
  return *set;
}

inline const schema::Node& kindSchema(std::string_view name) {
  const schema::Node* n = testSchemas().find(name);
  if (n == nullptr) {
    ADD_FAILURE() << "no schema " << name;
    static const schema::Node empty;
    return empty;
  }
  return *n;
}

inline Json yaml(std::string_view text) {
  auto r = parseYaml(text);
  if (!r.ok()) {
    ADD_FAILURE() << r.error().message();
    return Json();
  }
  return *r;
}

}  // namespace nave::apply::testing
