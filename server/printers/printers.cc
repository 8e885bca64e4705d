#include "server/printers/printers.h"

#include "server/printers/format.h"

namespace nave::printers {

namespace {

const PrinterMap& allPrinters() {
  static const PrinterMap printers = [] {
    PrinterMap m;
    addPodPrinters(m);
    addWorkloadPrinters(m);
    addNetworkPrinters(m);
    addClusterPrinters(m);
    addStoragePrinters(m);
    return m;
  }();
  return printers;
}

}  // namespace

const TablePrinter* findPrinter(std::string_view group, std::string_view kind) {
  const PrinterMap& printers = allPrinters();
  auto it = printers.find(printerKey(group, kind));
  return it == printers.end() ? nullptr : &it->second;
}

const TablePrinter& defaultPrinter() {
  static const TablePrinter printer = createdAtPrinter();
  return printer;
}

std::string age(const Json& timestamp, const PrintContext& context) {
  return sinceTimestamp(timestamp, context);
}

}  // namespace nave::printers
