// CustomResourceDefinitions shared by the crd module's tests.
#pragma once

#include "common/json.h"

namespace nave::crd::testing {

// crontabs.stable.example.com: v1 (storage, status and scale subresources, printer columns,
// defaults, enum, bounds, list types, an embedded resource) and v1beta1 (served, no columns).
inline Json cronTabCrd() {
  return Json::parse(R"({
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "crontabs.stable.example.com"},
    "spec": {
      "group": "stable.example.com",
      "scope": "Namespaced",
      "names": {"plural": "crontabs", "singular": "crontab", "kind": "CronTab",
                "listKind": "CronTabList", "shortNames": ["ct"], "categories": ["all"]},
      "versions": [
        {"name": "v1beta1", "served": true, "storage": false,
         "schema": {"openAPIV3Schema": {"type": "object", "properties": {
           "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}}},
        {"name": "v1", "served": true, "storage": true,
         "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.replicas",
                                                  "statusReplicasPath": ".status.replicas",
                                                  "labelSelectorPath": ".status.selector"}},
         "additionalPrinterColumns": [
           {"name": "Spec", "type": "string", "jsonPath": ".spec.cronSpec"},
           {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
           {"name": "Ready", "type": "string",
            "jsonPath": ".status.conditions[?(@.type==\"Ready\")].status"},
           {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}],
         "selectableFields": [{"jsonPath": ".spec.color"}],
         "schema": {"openAPIV3Schema": {
           "type": "object",
           "properties": {
             "spec": {
               "type": "object",
               "required": ["cronSpec"],
               "properties": {
                 "cronSpec": {"type": "string", "pattern": "^(\\d+|\\*)(/\\d+)?(\\s+(\\d+|\\*)(/\\d+)?){4}$"},
                 "image": {"type": "string", "maxLength": 20},
                 "replicas": {"type": "integer", "minimum": 1, "maximum": 10, "default": 1},
                 "color": {"type": "string", "enum": ["red", "green", "blue"], "default": "red"},
                 "ports": {"type": "array", "x-kubernetes-list-type": "map",
                           "x-kubernetes-list-map-keys": ["port"],
                           "items": {"type": "object", "required": ["port"], "properties": {
                             "port": {"type": "integer"}, "name": {"type": "string"}}}},
                 "tags": {"type": "array", "x-kubernetes-list-type": "set",
                          "items": {"type": "string"}},
                 "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                 "size": {"x-kubernetes-int-or-string": true},
                 "template": {"type": "object", "x-kubernetes-embedded-resource": true,
                              "x-kubernetes-preserve-unknown-fields": true},
                 "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": true,
                           "properties": {"known": {"type": "object", "properties": {
                             "a": {"type": "string"}}}}},
                 "nullableField": {"type": "string", "nullable": true}
               }
             },
             "status": {
               "type": "object",
               "properties": {
                 "replicas": {"type": "integer"},
                 "selector": {"type": "string"},
                 "conditions": {"type": "array", "items": {"type": "object", "properties": {
                   "type": {"type": "string"}, "status": {"type": "string"}}}}
               }
             }
           }
         }}}
      ]
    }
  })");
}

}  // namespace nave::crd::testing
