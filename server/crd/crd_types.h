// CustomResourceDefinitions as served resource types: the ResourceType of every served version
// of a CRD (what apiextensions-apiserver's crdHandler builds per version), and the strategy of
// the customresourcedefinitions resource itself.
//
// Custom resources have conversion strategy None: every version shares one storage (the CRD's
// group and plural) in the storage version's apiVersion, and only apiVersion differs between
// versions. Each version validates, prunes and defaults with its own schema.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/json.h"
#include "common/result.h"
#include "server/registry/resource_type.h"
#include "server/registry/type_registry.h"

namespace nave::crd {

// Set on every CRD while it is being deleted; the CRD controller removes it once every custom
// resource of the CRD is gone.
inline constexpr std::string_view kCleanupFinalizer = "customresourcecleanup.apiextensions.k8s.io";

// One ResourceType per served version, highest priority first (Kubernetes' version order: GA
// before beta before alpha, higher numbers first, other names alphabetically last). Names come
// from status.acceptedNames when the CRD has them (plural set), else from spec.names.
// kInvalid when the CRD cannot be served (no storage version, missing group or names).
//
// Each type: storage identity group/plural in the storage version; toStorage rewrites
// apiVersion to it; statusSubresource and scale from the version's subresources;
// tracksGeneration (status changes bump the generation only without a status subresource);
// shortNames and categories; selectableFields from the version's selectableFields;
// a table printer from additionalPrinterColumns; a defaulter (nulls of non-nullable fields
// dropped, schema defaults applied), a validator (metadata with DNS-1123 subdomain names,
// the schema, list-type set/map uniqueness, embedded resources, scale replicas) and
// isCustomResource. While the CRD is being deleted, creating custom resources fails with
// kMethodNotAllowed. Types of a CRD whose names are not accepted must not be registered.
Result<std::vector<registry::ResourceTypePtr>> typesForCrd(const Json& crd);

// The request-time unknown-field pruning of a custom resource (see pruning.h): the API server
// calls this instead of the built-in field check when type.isCustomResource, with the type's
// schema. Returns the pruned paths for fieldValidation Strict/Warn. Type mismatches are left
// to validation, which reports them with kube-openapi's messages.
std::vector<std::string> pruneCustomResourceFields(const registry::ResourceType& type,
                                                   Json& object);

// Adds the CRD strategy to the built-in customresourcedefinitions type: the cleanup finalizer,
// CRD defaults (singular, listKind, conversion None), status and storedVersions on create and
// update, and validateCrd (validateCrdStatus for status updates) on top of the existing
// validator; a field the existing validator already reports on is not reported twice.
// Idempotent.
void attachCrdStrategy(registry::ResourceType& crdType);
// The same on the registered type (replaces it in the registry). No-op when the registry has no
// customresourcedefinitions type.
void installCrdStrategy(registry::TypeRegistry& types);

// Accessors shared with the CRD controller.
std::string storageVersionOf(const Json& crd);  // "" when none is marked
// Whether any version's schema has x-kubernetes-validations (CEL rules nave does not evaluate).
bool hasValidationRules(const Json& crd);
// Kubernetes' version priority: negative when a sorts before b (is preferred).
int compareVersionPriority(std::string_view a, std::string_view b);

}  // namespace nave::crd
