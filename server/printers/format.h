// Helpers shared by the table printers: safe reads from versioned JSON objects and the cell
// formats Kubernetes' printers use (label maps, label selectors, container lists, ages).
// Internal to server/printers.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/json.h"
#include "common/time.h"
#include "server/printers/printers.h"

namespace nave::printers {

// --- Reading JSON without throwing -----------------------------------------------------------

// The value at `keys` below `v`, or a null value when any step is missing or not an object.
const Json& at(const Json& v, std::initializer_list<std::string_view> keys);
// `v` when it is an array (object), else an empty one: safe to iterate.
const Json& arrayOf(const Json& v);
const Json& objectOf(const Json& v);
// The string, integer or boolean in `v`, else the fallback.
std::string str(const Json& v);
int64_t integer(const Json& v, int64_t fallback = 0);
bool boolean(const Json& v, bool fallback = false);
// Whether `v` is present (not null): a Go pointer field that is set.
inline bool isSet(const Json& v) { return !v.is_null(); }
// The number of members of an array or object.
int64_t count(const Json& v);

std::string name(const Json& object);
// A *resource.Quantity printed: the stored string (or number), "<nil>" when absent.
std::string quantity(const Json& v);
// An intstr.IntOrString printed: the string or the decimal number.
std::string intOrString(const Json& v);

// --- Times -----------------------------------------------------------------------------------

std::optional<WallTime> timestamp(const Json& v);
// HumanDuration of now - t: "5m", "3h2m"; "<invalid>" beyond a second in the future.
std::string since(WallTime t, const PrintContext& context);
// translateTimestampSince: "<unknown>" when the timestamp is missing or unreadable.
std::string sinceTimestamp(const Json& v, const PrintContext& context);
// HumanDuration of b - a.
std::string between(WallTime a, WallTime b);

// --- Kubernetes' text formats ----------------------------------------------------------------

// labels.FormatLabels: "a=1,b=2" sorted by key, "<none>" when empty.
std::string formatLabels(const Json& labels);
// metav1.LabelSelectorAsSelector(...).String(): "" for a null or empty selector, nullopt when
// the selector is invalid (bad key, value or operator).
std::optional<std::string> selectorString(const Json& selector);
// metav1.FormatLabelSelector: "<none>" for empty, "<error>" for invalid.
std::string formatLabelSelector(const Json& selector);
// layoutContainerCells: container names and images, comma-joined.
struct ContainerCells {
  std::string names;
  std::string images;
};
ContainerCells containerCells(const Json& containers);
// Access modes in Kubernetes' fixed order and short form: "RWO,ROX,RWX,RWOP".
std::string accessModes(const Json& modes);
std::string lower(std::string_view s);
// strings.TrimSpace on ASCII whitespace.
std::string trimSpace(std::string_view s);
// Joins with `sep`.
std::string joinStrings(const std::vector<std::string>& parts, std::string_view sep);

// --- Column definitions ----------------------------------------------------------------------

Column nameColumn();
Column ageColumn();
Column column(std::string name, std::string type, std::string description, int priority = 0);
// The wide CONTAINERS and IMAGES columns of workload printers.
Column containersColumn();
Column imagesColumn();

// --- Registration ----------------------------------------------------------------------------

// Printers by "group/kind" ("/Pod" for core).
using PrinterMap = std::map<std::string, TablePrinter, std::less<>>;
std::string printerKey(std::string_view group, std::string_view kind);
// Kubernetes' default table (rest.NewDefaultTableConvertor): NAME and CREATED AT (RFC 3339),
// used by built-in types without a printer of their own (Role, LimitRange, CRD, ...).
TablePrinter createdAtPrinter();

void addPodPrinters(PrinterMap& printers);       // pod.cc
void addWorkloadPrinters(PrinterMap& printers);  // workloads.cc
void addNetworkPrinters(PrinterMap& printers);   // network.cc
void addClusterPrinters(PrinterMap& printers);   // cluster.cc
void addStoragePrinters(PrinterMap& printers);   // storage.cc

}  // namespace nave::printers
