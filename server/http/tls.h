// The server side of TLS: the SSL_CTX built from ServerOptions, and the identity of a peer's
// client certificate.
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>

#include "common/result.h"
#include "server/http/http_server.h"

namespace nave::http {

struct SslCtxDeleter {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
struct SslDeleter {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxDeleter>;
using SslPtr = std::unique_ptr<SSL, SslDeleter>;

// TLS 1.2+, ALPN "http/1.1" only, the serving certificate chain and key, and, when
// options.clientCaPem is set, optional client certificates verified against it. Errors
// (kInvalid) when the certificate, key or CA does not load or the key does not match.
Result<SslCtxPtr> makeServerTlsContext(const ServerOptions& options);

// The subject of the peer's certificate if one was presented and it verified against the
// client CA; otherwise an identity with present == false. Call after the handshake.
PeerIdentity peerIdentity(SSL* ssl);

// The OpenSSL error queue as text (and cleared), for error messages.
std::string takeOpensslErrors();

}  // namespace nave::http
