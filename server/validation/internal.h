// Shared pieces of the validation module: tolerant JSON accessors, Kubernetes' name and format
// checks, quantities, label selectors, and the per-group defaulting/validation entry points that
// the (group, kind) table in registry.cc dispatches to. Not part of the module's interface.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/json.h"
#include "server/validation/field_errors.h"
#include "server/validation/validation.h"

namespace nave::validation::detail {

// ---- JSON access that never throws -------------------------------------------------------

// The member if `obj` is an object holding `key` with a non-null value.
const Json* get(const Json& obj, std::string_view key);
const Json* getObject(const Json& obj, std::string_view key);
const Json* getArray(const Json& obj, std::string_view key);
// A shared empty array/object when the member is absent or of another type.
const Json& arrayOf(const Json& obj, std::string_view key);
const Json& objectOf(const Json& obj, std::string_view key);
// The string member, or "" (Go's zero value) when absent or not a string.
std::string str(const Json& obj, std::string_view key);
// Integer members (JSON numbers with an integral value); nullopt when absent.
std::optional<int64_t> optInt(const Json& obj, std::string_view key);
bool isInteger(const Json& v);
int64_t intValue(const Json& v);  // 0 for non-integers
bool truthy(const Json& obj, std::string_view key);  // a boolean member that is true
// Present and not null / empty (string, array, object) / zero / false: Go's "is set".
bool isSet(const Json& obj, std::string_view key);

// Defaulting helpers; all do nothing when `obj` is not an object.
// Sets `key` when it is absent or null (a pointer field in Go).
void defaultIfAbsent(Json& obj, std::string_view key, Json value);
// Sets `key` when it is absent, null, "" or 0 (a value field in Go).
void defaultIfZero(Json& obj, std::string_view key, Json value);
// The object member `key`, created when absent or null; nullptr when of another type.
Json* ensureObject(Json& obj, std::string_view key);
// The member `key` if it is an object / array, else nullptr.
Json* mutObject(Json& obj, std::string_view key);
Json* mutArray(Json& obj, std::string_view key);

// ---- name and format rules (Kubernetes' messages) ----------------------------------------

using NameFn = std::vector<std::string> (*)(std::string_view name, bool prefix);
std::vector<std::string> nameIsDnsSubdomain(std::string_view name, bool prefix);
std::vector<std::string> nameIsDnsLabel(std::string_view name, bool prefix);
std::vector<std::string> nameIsDns1035Label(std::string_view name, bool prefix);
std::vector<std::string> nameIsPathSegment(std::string_view name, bool prefix);

std::vector<std::string> isDns1035Label(std::string_view value);
std::vector<std::string> isWildcardDns1123Subdomain(std::string_view value);
std::vector<std::string> isConfigMapKey(std::string_view value);
std::vector<std::string> isEnvVarName(std::string_view value);  // the relaxed (1.32+) rule
std::vector<std::string> isValidPortName(std::string_view value);
std::vector<std::string> isValidPortNum(int64_t port);
std::vector<std::string> isInRange(int64_t value, int64_t lo, int64_t hi);
std::vector<std::string> isHttpHeaderName(std::string_view value);
std::vector<std::string> isValidPercent(std::string_view value);
std::vector<std::string> isCIdentifier(std::string_view value);
bool isDns1123LabelFormat(std::string_view value);
bool parseIp(std::string_view value, bool& isV6);
bool isIp(std::string_view value);
std::string inclusiveRangeError(int64_t lo, int64_t hi);
std::string maxLenError(size_t length);

inline constexpr std::string_view kImmutable = "field is immutable";
inline constexpr std::string_view kNegative = "must be greater than or equal to 0";

// Appends one Invalid error per message.
void invalidEach(FieldErrors& errs, const std::string& path, const Json& value,
                 const std::vector<std::string>& msgs);
void validateIp(const Json& value, const std::string& path, FieldErrors& errs);
void validateCidr(const Json& value, const std::string& path, FieldErrors& errs);
void nonNegative(const Json& obj, std::string_view key, const std::string& path,
                 FieldErrors& errs);
// Invalid `field is immutable` when the two members differ (absent == null).
void immutableField(const Json& obj, const Json& old, std::string_view key,
                    const std::string& path, FieldErrors& errs);
const Json& memberOrNull(const Json& obj, std::string_view key);
// A member as a bad value: strings and numbers as they are, absent as null.
bool jsonEqual(const Json& a, const Json& b);  // absent/null/{}/[] treated alike at top level

// ---- metadata -----------------------------------------------------------------------------

void validateLabels(const Json& labels, const std::string& path, FieldErrors& errs);
void validateLabelName(std::string_view key, const std::string& path, FieldErrors& errs);
void validateAnnotations(const Json& annotations, const std::string& path, FieldErrors& errs);
void validateQualifiedName(const Json& value, const std::string& path, FieldErrors& errs);
// ValidateObjectMeta with a name rule; `kubeFinalizers` adds the built-in types' finalizer rule.
void validateMeta(const Json& object, bool namespaced, NameFn nameFn, bool kubeFinalizers,
                  FieldErrors& errs);
void validateMetaUpdate(const Json& object, const Json& old, bool kubeFinalizers,
                        FieldErrors& errs);

// ---- label selectors (metav1.LabelSelector) ------------------------------------------------

void validateLabelSelector(const Json& selector, const std::string& path, FieldErrors& errs);
// Whether the selector (null/absent selects nothing here, as LabelSelectorAsSelector(nil)
// would select nothing) matches the labels map. Unknown operators never match.
bool selectorMatches(const Json& selector, const Json& labels);
bool selectorIsEmpty(const Json& selector);  // no matchLabels and no matchExpressions

// ---- quantities (resource.Quantity) --------------------------------------------------------

enum class QuantityFormat { kDecimalSI, kBinarySI, kDecimalExponent };
struct Quantity {
  __int128 nanos = 0;  // value * 1e9, rounded away from zero below nano precision
  QuantityFormat format = QuantityFormat::kDecimalSI;
  bool overflow = false;  // beyond what nanos can hold (compares by sign only)
  int compare(const Quantity& other) const;
  bool isZero() const { return nanos == 0 && !overflow; }
  bool isNegative() const { return nanos < 0; }
  std::string toString() const;  // Kubernetes' canonical form ("500m", "1Gi", "1536Mi")
};
// A JSON string or number in Quantity syntax; nullopt when malformed.
std::optional<Quantity> parseQuantity(const Json& value);
std::optional<Quantity> parseQuantityText(std::string_view text);
inline constexpr std::string_view kQuantityRegexError =
    "quantities must match the regular expression "
    "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

// ---- int-or-string --------------------------------------------------------------------------

// Validates a percent string or a non-negative integer (IntOrString of maxSurge-like fields).
void validatePositiveIntOrPercent(const Json& value, const std::string& path, FieldErrors& errs);
void validateNotMoreThan100Percent(const Json& value, const std::string& path,
                                   FieldErrors& errs);
// The int value of an IntOrString, percent strings resolve against 100; nullopt if neither.
std::optional<int64_t> intOrPercent(const Json& value);

// ---- per-group entry points (registry.cc dispatches) ---------------------------------------

using DefaultFn = void (*)(Json& object);
using ValidateFn = void (*)(const Json& object, const Json* old, Operation op, FieldErrors& errs);

// Pod specs, shared by every workload kind.
struct PodSpecOptions {
  bool isPod = false;  // a Pod, not a template inside another object
  // Names usable as volumes besides spec.volumes (a StatefulSet's volumeClaimTemplates).
  std::vector<std::string> extraVolumeNames;
};
void defaultPodSpec(Json& spec);
void defaultPodTemplate(Json& templ);  // {metadata, spec}
void defaultPersistentVolumeClaimSpec(Json& spec);
void validatePodSpec(const Json& spec, const std::string& path, const PodSpecOptions& opts,
                     FieldErrors& errs);
void validatePodTemplateSpec(const Json& templ, const std::string& path,
                             const PodSpecOptions& opts, FieldErrors& errs);
void validatePodSpecUpdate(const Json& spec, const Json& old, const std::string& path,
                           FieldErrors& errs);
void validatePersistentVolumeClaimSpec(const Json& spec, const std::string& path,
                                       FieldErrors& errs);
void validateResourceRequirements(const Json& resources, const std::string& path,
                                  FieldErrors& errs);
void validateNodeSelector(const Json& selector, const std::string& path, FieldErrors& errs);
void validateTolerations(const Json& tolerations, const std::string& path, FieldErrors& errs);

// core ("")
void defaultPod(Json& o);
void defaultPodTemplateObject(Json& o);
void defaultReplicationController(Json& o);
void defaultService(Json& o);
void defaultEndpoints(Json& o);
void defaultSecret(Json& o);
void defaultNamespace(Json& o);
void defaultNode(Json& o);
void defaultPersistentVolume(Json& o);
void defaultPersistentVolumeClaim(Json& o);
void defaultLimitRange(Json& o);
void validatePod(const Json& o, const Json* old, Operation op, FieldErrors& errs);
void validatePodTemplateObject(const Json& o, const Json* old, Operation op, FieldErrors& errs);
void validateReplicationController(const Json& o, const Json* old, Operation op,
                                   FieldErrors& errs);
void validateService(const Json& o, const Json* old, Operation op, FieldErrors& errs);
void validateEndpoints(const Json& o, const Json* old, Operation op, FieldErrors& errs);
void validateConfigMap(const Json& o, const Json* old, Operation op, FieldErrors& errs);
void validateSecret(const Json& o, const Json* old, Operation op, FieldErrors& errs);
void validateServiceAccount(const Json& o, const Json* old, Operation op, FieldErrors& errs);
void validateCoreEvent(const Json& o, const Json* old, Operation op, FieldErrors& errs);
void validateNamespace(const Json& o, const Json* old, Operation op, FieldErrors& errs);
void validateNode(const Json& o, const Json* old, Operation op, FieldErrors& errs);
void validatePersistentVolume(const Json& o, const Json* old, Operation op, FieldErrors& errs);
void validatePersistentVolumeClaim(const Json& o, const Json* old, Operation op,
                                   FieldErrors& errs);
void validateResourceQuota(const Json& o, const Json* old, Operation op, FieldErrors& errs);
void validateLimitRange(const Json& o, const Json* old, Operation op, FieldErrors& errs);
void validateBinding(const Json& o, const Json* old, Operation op, FieldErrors& errs);

// apps
void defaultDeployment(Json& o);
void defaultReplicaSet(Json& o);
void defaultStatefulSet(Json& o);
void defaultDaemonSet(Json& o);
void validateDeployment(const Json& o, const Json* old, Operation op, FieldErrors& errs);
void validateReplicaSet(const Json& o, const Json* old, Operation op, FieldErrors& errs);
void validateStatefulSet(const Json& o, const Json* old, Operation op, FieldErrors& errs);
void validateDaemonSet(const Json& o, const Json* old, Operation op, FieldErrors& errs);
void validateControllerRevision(const Json& o, const Json* old, Operation op, FieldErrors& errs);

// batch
void defaultJob(Json& o);
void defaultCronJob(Json& o);
void validateJob(const Json& o, const Json* old, Operation op, FieldErrors& errs);
void validateCronJob(const Json& o, const Json* old, Operation op, FieldErrors& errs);
// robfig/cron's standard parser: "" when valid, else its error text.
std::string parseCronSchedule(std::string_view schedule);

// networking.k8s.io
void defaultNetworkPolicy(Json& o);
void validateIngress(const Json& o, const Json* old, Operation op, FieldErrors& errs);
void validateIngressClass(const Json& o, const Json* old, Operation op, FieldErrors& errs);
void validateNetworkPolicy(const Json& o, const Json* old, Operation op, FieldErrors& errs);

// rbac.authorization.k8s.io
void defaultRoleBinding(Json& o);
void validateRole(const Json& o, const Json* old, Operation op, FieldErrors& errs);
void validateClusterRole(const Json& o, const Json* old, Operation op, FieldErrors& errs);
void validateRoleBinding(const Json& o, const Json* old, Operation op, FieldErrors& errs);
void validateClusterRoleBinding(const Json& o, const Json* old, Operation op,
                                FieldErrors& errs);

// other groups
void defaultEndpointSlice(Json& o);
void defaultStorageClass(Json& o);
void defaultPriorityClass(Json& o);
void defaultHorizontalPodAutoscaler(Json& o);
void validateLease(const Json& o, const Json* old, Operation op, FieldErrors& errs);
void validateEndpointSlice(const Json& o, const Json* old, Operation op, FieldErrors& errs);
void validateEventsEvent(const Json& o, const Json* old, Operation op, FieldErrors& errs);
void validateStorageClass(const Json& o, const Json* old, Operation op, FieldErrors& errs);
void validatePodDisruptionBudget(const Json& o, const Json* old, Operation op,
                                 FieldErrors& errs);
void validatePriorityClass(const Json& o, const Json* old, Operation op, FieldErrors& errs);
void validateHorizontalPodAutoscaler(const Json& o, const Json* old, Operation op,
                                     FieldErrors& errs);

// apiextensions.k8s.io
void defaultCustomResourceDefinition(Json& o);
void validateCustomResourceDefinition(const Json& o, const Json* old, Operation op,
                                      FieldErrors& errs);

}  // namespace nave::validation::detail
