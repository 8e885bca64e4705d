// Small schemas for the patch tests, written here so the tests do not depend on the built-in
// definitions: Pod, Deployment and metadata shapes with their real patch strategies, and a
// MergeItem type with one field of each kind, after Kubernetes' own strategic patch tests.
#pragma once

#include <gtest/gtest.h>

#include "server/schema/schema.h"

namespace nave::patch::testing {

inline constexpr std::string_view kMetaSource = R"(
package io.k8s.apimachinery.pkg.apis.meta.v1
type ObjectMeta
  name string
  namespace string
  labels map[string]
  annotations map[string]
  finalizers []string strategy=merge list=set
  ownerReferences []OwnerReference merge=uid strategy=merge
  resourceVersion string
type ListMeta
  resourceVersion string
type OwnerReference
  uid! string
  name string
  kind string
type LabelSelector
  matchLabels map[string]
  matchExpressions []LabelSelectorRequirement
type LabelSelectorRequirement
  key string
  operator string
  values []string
)";

inline constexpr std::string_view kCoreSource = R"(
package io.k8s.api.core.v1
use meta = io.k8s.apimachinery.pkg.apis.meta.v1
kind Pod v1
  spec PodSpec
  status PodStatus
type PodTemplateSpec
  metadata meta.ObjectMeta
  spec PodSpec
type PodSpec
  containers []Container merge=name strategy=merge
  initContainers []Container merge=name strategy=merge
  volumes []Volume merge=name strategy=merge,retainKeys
  nodeSelector map[string]
  tolerations []Toleration
  imagePullSecrets []LocalObjectReference merge=name strategy=merge
  restartPolicy string
  extra any
type Container
  name! string
  image string
  args []string
  ports []ContainerPort merge=containerPort strategy=merge list=map keys=containerPort,protocol
  env []EnvVar merge=name strategy=merge
  volumeMounts []VolumeMount merge=mountPath strategy=merge
  resources ResourceRequirements
type ResourceRequirements
  limits map[quantity]
  requests map[quantity]
type ContainerPort
  name string
  containerPort! int32
  protocol string
type EnvVar
  name! string
  value string
type VolumeMount
  name string
  mountPath! string
type Volume
  name! string
  emptyDir EmptyDirVolumeSource
  hostPath HostPathVolumeSource
  configMap ConfigMapVolumeSource
type EmptyDirVolumeSource
  medium string
type HostPathVolumeSource
  path string
type ConfigMapVolumeSource
  name string
type Toleration
  key string
  operator string
  effect string
type LocalObjectReference
  name string
type PodStatus
  phase string
  conditions []PodCondition merge=type strategy=merge
type PodCondition
  type! string
  status string
)";

inline constexpr std::string_view kAppsSource = R"(
package io.k8s.api.apps.v1
use meta = io.k8s.apimachinery.pkg.apis.meta.v1
use core = io.k8s.api.core.v1
kind Deployment apps/v1
  spec DeploymentSpec
type DeploymentSpec
  replicas int32
  selector meta.LabelSelector
  template core.PodTemplateSpec
  strategy DeploymentStrategy strategy=retainKeys
type DeploymentStrategy
  type string
  rollingUpdate RollingUpdateDeployment
type RollingUpdateDeployment
  maxUnavailable intstr
  maxSurge intstr
)";

inline constexpr std::string_view kMergeItemSource = R"(
package test.v1
type MergeItem
  name string
  value string
  other string
  mergingList []MergeItem merge=name strategy=merge
  nonMergingList []MergeItem
  mergingIntList []int64 strategy=merge
  nonMergingIntList []int64
  mergeItemPtr MergeItem
  simpleMap map[string]
  replacingItem any strategy=replace
  retainKeysMap RetainKeysMergeItem strategy=retainKeys
  retainKeysMergingList []MergeItem merge=name strategy=merge,retainKeys
  namedList NamedMergeList
type RetainKeysMergeItem
  name string
  value string
  other string
  simpleMap map[string]
  mergingIntList []int64 strategy=merge
  mergingList []MergeItem merge=name strategy=merge
  nonMergingList []MergeItem
type NamedMergeList = []MergeItem merge=name strategy=merge
)";

inline const schema::SchemaSet& testSchemas() {
  static const schema::SchemaSet* set = [] {
    auto* s = new schema::SchemaSet();
    for (auto [text, origin] :
         {std::pair{kMetaSource, "meta"}, std::pair{kCoreSource, "core"},
          std::pair{kAppsSource, "apps"}, std::pair{kMergeItemSource, "test"}}) {
      auto r = s->addSource(text, origin);
      EXPECT_TRUE(r.ok()) << r.error().message();
    }
    auto v = s->validate();
    EXPECT_TRUE(v.ok()) << v.error().message();
    return s;
  }();
  return *set;
}

inline const schema::Node& kindSchema(std::string_view name) {
  const schema::Node* n = testSchemas().find(name);
  EXPECT_NE(n, nullptr) << name;
  static const schema::Node empty;
  return n != nullptr ? *n : empty;
}

}  // namespace nave::patch::testing
