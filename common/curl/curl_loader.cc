// libcurl for the nave executable, loaded when first used.
//
// libcurl serves registry pulls and the remote API client, but it brings some forty shared
// libraries (TLS, Kerberos, LDAP, SSH, IDN ...) and Debian has no complete static build of it.
// Linked normally, every start of nave, and so every `nave shim` (one per container), would
// pay for loading and relocating them: milliseconds per container and megabytes of private
// memory per shim. So nave is linked without libcurl and defines the few functions it calls,
// each forwarding to libcurl.so.4 opened with dlopen on first use (as systemd loads its
// optional libraries). When the library is missing, the calls fail the way libcurl reports
// failures (a null handle, CURLE_FAILED_INIT) and the reason is logged once.
//
// Tests and benchmarks link libcurl directly and do not use this file.
#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>
#include <dlfcn.h>

#include <cstdarg>
#include <mutex>
#include <string>

#include "common/log.h"

namespace {

struct CurlApi {
  decltype(&curl_global_init) global_init = nullptr;
  decltype(&curl_easy_init) easy_init = nullptr;
  decltype(&curl_easy_setopt) easy_setopt = nullptr;
  decltype(&curl_easy_perform) easy_perform = nullptr;
  decltype(&curl_easy_getinfo) easy_getinfo = nullptr;
  decltype(&curl_easy_cleanup) easy_cleanup = nullptr;
  decltype(&curl_easy_strerror) easy_strerror = nullptr;
  decltype(&curl_slist_append) slist_append = nullptr;
  decltype(&curl_slist_free_all) slist_free_all = nullptr;
};

// The loaded library's functions, or nullptr when it cannot be loaded (logged once).
const CurlApi* api() {
  static CurlApi loaded;
  static const CurlApi* result = nullptr;
  static std::once_flag once;
  std::call_once(once, [] {
    void* lib = ::dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    std::string error;
    if (lib == nullptr) {
      const char* e = ::dlerror();
      error = e ? e : "dlopen failed";
    }
    auto resolve = [&](auto& fn, const char* name) {
      if (lib == nullptr) return;
      void* sym = ::dlsym(lib, name);
      if (sym == nullptr && error.empty()) error = std::string("libcurl.so.4 lacks ") + name;
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(sym);
    };
    resolve(loaded.global_init, "curl_global_init");
    resolve(loaded.easy_init, "curl_easy_init");
    resolve(loaded.easy_setopt, "curl_easy_setopt");
    resolve(loaded.easy_perform, "curl_easy_perform");
    resolve(loaded.easy_getinfo, "curl_easy_getinfo");
    resolve(loaded.easy_cleanup, "curl_easy_cleanup");
    resolve(loaded.easy_strerror, "curl_easy_strerror");
    resolve(loaded.slist_append, "curl_slist_append");
    resolve(loaded.slist_free_all, "curl_slist_free_all");
    if (error.empty()) {
      result = &loaded;
    } else {
      nave::log::error("libcurl is not available: registry pulls and remote API clients fail "
                       "(install libcurl4)",
                       {{"error", error}});
    }
  });
  return result;
}

}  // namespace

extern "C" {

CURLcode curl_global_init(long flags) {
  const CurlApi* c = api();
  return c ? c->global_init(flags) : CURLE_FAILED_INIT;
}

CURL* curl_easy_init(void) {
  const CurlApi* c = api();
  return c ? c->easy_init() : nullptr;
}

// The one variadic argument's type follows from the option's number range, as libcurl
// itself decides (long, object pointer, function pointer, curl_off_t, blob pointer).
CURLcode curl_easy_setopt(CURL* handle, CURLoption option, ...) {
  const CurlApi* c = api();
  if (c == nullptr) return CURLE_FAILED_INIT;
  va_list ap;
  va_start(ap, option);
  CURLcode rc;
  if (option < CURLOPTTYPE_OBJECTPOINT) {
    rc = c->easy_setopt(handle, option, va_arg(ap, long));
  } else if (option < CURLOPTTYPE_FUNCTIONPOINT) {
    rc = c->easy_setopt(handle, option, va_arg(ap, void*));
  } else if (option < CURLOPTTYPE_OFF_T) {
    rc = c->easy_setopt(handle, option, va_arg(ap, void (*)()));
  } else if (option < CURLOPTTYPE_BLOB) {
    rc = c->easy_setopt(handle, option, va_arg(ap, curl_off_t));
  } else {
    rc = c->easy_setopt(handle, option, va_arg(ap, void*));
  }
  va_end(ap);
  return rc;
}

CURLcode curl_easy_perform(CURL* handle) {
  const CurlApi* c = api();
  return c ? c->easy_perform(handle) : CURLE_FAILED_INIT;
}

// Every CURLINFO takes one pointer to where the answer goes.
CURLcode curl_easy_getinfo(CURL* handle, CURLINFO info, ...) {
  const CurlApi* c = api();
  if (c == nullptr) return CURLE_FAILED_INIT;
  va_list ap;
  va_start(ap, info);
  void* out = va_arg(ap, void*);
  va_end(ap);
  return c->easy_getinfo(handle, info, out);
}

void curl_easy_cleanup(CURL* handle) {
  if (const CurlApi* c = api()) c->easy_cleanup(handle);
}

const char* curl_easy_strerror(CURLcode code) {
  const CurlApi* c = api();
  return c ? c->easy_strerror(code) : "libcurl is not available";
}

curl_slist* curl_slist_append(curl_slist* list, const char* text) {
  const CurlApi* c = api();
  return c ? c->slist_append(list, text) : nullptr;
}

void curl_slist_free_all(curl_slist* list) {
  if (const CurlApi* c = api()) c->slist_free_all(list);
}

}  // extern "C"
