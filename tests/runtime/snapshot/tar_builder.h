// Test helpers: a small tar writer that can produce any entry, hostile ones included (names
// with "..", absolute paths, links anywhere, sizes that lie), compression, and scratch dirs.
#pragma once

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <openssl/sha.h>

namespace nave::runtime::testing {

struct TarEntry {
  std::string name;
  char type = '0';  // '0' file, '1' hard link, '2' symlink, '3' char dev, '4' block dev,
                    // '5' directory, '6' fifo
  std::string data;
  std::string linkname;
  unsigned mode = 0644;
  unsigned uid = 0, gid = 0;
  long long mtime = 1700000000;
  std::map<std::string, std::string> pax;  // extra PAX records ("SCHILY.xattr.user.x", ...)
  long long declaredSize = -1;             // the header's size when it should lie
  unsigned devMajor = 0, devMinor = 0;
};

inline TarEntry file(std::string name, std::string data, unsigned mode = 0644) {
  TarEntry e;
  e.name = std::move(name);
  e.data = std::move(data);
  e.mode = mode;
  return e;
}
inline TarEntry dir(std::string name, unsigned mode = 0755) {
  TarEntry e;
  e.name = std::move(name);
  e.type = '5';
  e.mode = mode;
  return e;
}
inline TarEntry symlink(std::string name, std::string target) {
  TarEntry e;
  e.name = std::move(name);
  e.type = '2';
  e.linkname = std::move(target);
  e.mode = 0777;
  return e;
}
inline TarEntry hardlink(std::string name, std::string target) {
  TarEntry e;
  e.name = std::move(name);
  e.type = '1';
  e.linkname = std::move(target);
  return e;
}

class TarBuilder {
 public:
  TarBuilder& add(TarEntry e) {
    entries_.push_back(std::move(e));
    return *this;
  }

  // The tar stream; `endMarker` false leaves out the two zero blocks.
  std::string build(bool endMarker = true) const {
    std::string out;
    for (const TarEntry& e : entries_) {
      std::map<std::string, std::string> pax = e.pax;
      if (e.name.size() > 100) pax["path"] = e.name;
      if (e.linkname.size() > 100) pax["linkpath"] = e.linkname;
      if (!pax.empty()) {
        std::string records;
        for (const auto& [k, v] : pax) records += paxRecord(k, v);
        out += header("PaxHeaders/x", 'x', records.size(), 0644, 0, 0, e.mtime, "", 0, 0);
        out += pad(records);
      }
      long long size = e.declaredSize >= 0 ? e.declaredSize : static_cast<long long>(e.data.size());
      out += header(e.name.substr(0, 100), e.type, size, e.mode, e.uid, e.gid, e.mtime,
                    e.linkname.substr(0, 100), e.devMajor, e.devMinor);
      out += pad(e.data);
    }
    if (endMarker) out += std::string(1024, '\0');
    return out;
  }

 private:
  static std::string paxRecord(const std::string& key, const std::string& value) {
    std::string body = " " + key + "=" + value + "\n";
    size_t len = body.size() + 1;
    while (std::to_string(len).size() + body.size() != len) ++len;
    return std::to_string(len) + body;
  }

  static std::string pad(const std::string& data) {
    std::string out = data;
    out.resize((data.size() + 511) / 512 * 512, '\0');
    return out;
  }

  // width - 1 octal digits and a NUL.
  static void octal(char* field, size_t width, unsigned long long value) {
    for (size_t i = width - 1; i-- > 0; value >>= 3)
      field[i] = static_cast<char>('0' + (value & 7));
    field[width - 1] = '\0';
  }

  static std::string header(const std::string& name, char type, long long size, unsigned mode,
                            unsigned uid, unsigned gid, long long mtime,
                            const std::string& linkname, unsigned devMajor, unsigned devMinor) {
    char h[512];
    std::memset(h, 0, sizeof h);
    std::memcpy(h, name.data(), std::min<size_t>(name.size(), 100));
    octal(h + 100, 8, mode);
    octal(h + 108, 8, uid);
    octal(h + 116, 8, gid);
    if (size > 077777777777LL) {  // base-256 for sizes past 8 GiB, as GNU tar writes them
      unsigned long long v = static_cast<unsigned long long>(size);
      h[124] = static_cast<char>(0x80);
      for (int i = 11; i >= 1; --i, v >>= 8) h[124 + i] = static_cast<char>(v & 0xff);
    } else {
      octal(h + 124, 12, static_cast<unsigned long long>(size));
    }
    octal(h + 136, 12, static_cast<unsigned long long>(mtime));
    h[156] = type;
    std::memcpy(h + 157, linkname.data(), std::min<size_t>(linkname.size(), 100));
    std::memcpy(h + 257, "ustar", 6);
    std::memcpy(h + 263, "00", 2);
    std::memcpy(h + 265, "root", 4);
    std::memcpy(h + 297, "root", 4);
    octal(h + 329, 8, devMajor);
    octal(h + 337, 8, devMinor);
    std::memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (unsigned char c : h) sum += c;
    octal(h + 148, 7, sum);
    h[155] = ' ';
    return std::string(h, sizeof h);
  }

  std::vector<TarEntry> entries_;
};

inline std::string gzip(const std::string& data, int level = 6) {
  z_stream zs;
  std::memset(&zs, 0, sizeof zs);
  deflateInit2(&zs, level, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&zs, data.size()) + 64, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

inline std::string zstd(const std::string& data) {
  std::string out(ZSTD_compressBound(data.size()), '\0');
  size_t n = ZSTD_compress(out.data(), out.size(), data.data(), data.size(), 3);
  out.resize(n);
  return out;
}

inline std::string sha256Digest(const std::string& data) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), md);
  char hex[2 * SHA256_DIGEST_LENGTH + 1];
  for (int i = 0; i < SHA256_DIGEST_LENGTH; ++i) std::snprintf(hex + 2 * i, 3, "%02x", md[i]);
  return std::string("sha256:") + hex;
}

inline void writeFile(const std::string& path, const std::string& data) {
  std::ofstream(path, std::ios::binary) << data;
}

inline std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A fresh directory under /var/tmp (the same disk as the data dir), removed with its tree.
class ScratchDir {
 public:
  ScratchDir() {
    std::string tmpl = "/var/tmp/nave-snapshot-test-XXXXXX";
    if (::mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
  }
  ~ScratchDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Every path under `dir`, relative, sorted.
inline std::vector<std::string> listTree(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    out.push_back(std::filesystem::relative(it->path(), dir).string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace nave::runtime::testing
