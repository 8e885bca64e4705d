// Defaulting and validation of built-in types, as Kubernetes' defaulters and
// pkg/apis/*/validation do. Objects are JSON in their storage version.
#pragma once

#include <string_view>

#include "common/json.h"
#include "server/validation/field_errors.h"

namespace nave::validation {

enum class Operation { kCreate, kUpdate, kStatusUpdate };

// Fills in defaults for a built-in type (group "" for core): pods' restartPolicy, dnsPolicy,
// terminationGracePeriodSeconds, schedulerName, imagePullPolicy from the image tag, ports'
// protocol; deployments' strategy, replicas, revisionHistoryLimit, progressDeadlineSeconds;
// and so on. Unknown kinds are left alone.
void applyDefaults(std::string_view group, std::string_view kind, Json& object);

// Validates a built-in object: metadata (name rules for the kind, labels, annotations,
// ownerReferences, finalizers; immutable fields on update) and the type's own rules. `old`
// is null on create. Field paths are rooted at the object ("metadata.name", "spec.replicas").
FieldErrors validate(std::string_view group, std::string_view kind, const Json& object,
                     const Json* old, Operation operation);

// Metadata checks shared with custom resources. `nameIsDns1123Label` selects the stricter
// name rule (namespaces, services); otherwise DNS-1123 subdomain.
void validateObjectMeta(const Json& object, bool namespaced, bool nameIsDns1123Label,
                        FieldErrors& errors);
void validateObjectMetaUpdate(const Json& object, const Json& old, FieldErrors& errors);

// Name rules with Kubernetes' messages; each returns the list of problems (empty = valid).
std::vector<std::string> isDns1123Subdomain(std::string_view value);
std::vector<std::string> isDns1123Label(std::string_view value);
std::vector<std::string> isQualifiedName(std::string_view value);  // label keys
std::vector<std::string> isValidLabelValue(std::string_view value);

}  // namespace nave::validation
