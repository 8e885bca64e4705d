#include "runtime/container/cri_log.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace nave::runtime {
namespace {

class CriLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/nave-crilog-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/container.log";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::vector<std::string> records(const std::string& path) {
    std::ifstream in(path);
    std::vector<std::string> out;
    std::string line;
    while (std::getline(in, line)) out.push_back(line);
    return out;
  }

  std::string dir_, path_;
};

// "TIME STREAM TAG TEXT" with the time in RFC 3339, nanoseconds, UTC.
const std::regex kRecord(R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z (stdout|stderr) ([PF]) (.*)$)");

TEST_F(CriLogTest, WritesWholeLinesWithStreamAndTag) {
  auto w = CriLogWriter::open(path_, 1 << 20, 3);
  ASSERT_TRUE(w.ok()) << w.error().message();
  (*w)->append(LogStream::kStdout, "hello\nwor");
  (*w)->append(LogStream::kStderr, "oops\n");
  (*w)->append(LogStream::kStdout, "ld\n\n");
  auto lines = records(path_);
  ASSERT_EQ(lines.size(), 4u);
  std::smatch m;
  ASSERT_TRUE(std::regex_match(lines[0], m, kRecord)) << lines[0];
  EXPECT_EQ(m[1], "stdout");
  EXPECT_EQ(m[2], "F");
  EXPECT_EQ(m[3], "hello");
  ASSERT_TRUE(std::regex_match(lines[1], m, kRecord));
  EXPECT_EQ(m[1], "stderr");
  EXPECT_EQ(m[3], "oops");
  ASSERT_TRUE(std::regex_match(lines[2], m, kRecord));
  EXPECT_EQ(m[3], "world");
  ASSERT_TRUE(std::regex_match(lines[3], m, kRecord)) << lines[3];
  EXPECT_EQ(m[3], "");
}

TEST_F(CriLogTest, LongLinesBecomePartialRecords) {
  auto w = CriLogWriter::open(path_, 1 << 20, 3);
  ASSERT_TRUE(w.ok());
  std::string longLine(CriLogWriter::kMaxLineBytes * 2 + 100, 'x');
  // Fed in odd pieces, as pipes deliver them.
  std::string data = longLine + "\nshort\n";
  for (size_t i = 0; i < data.size(); i += 7000) (*w)->append(LogStream::kStdout, data.substr(i, 7000));
  auto lines = records(path_);
  ASSERT_EQ(lines.size(), 4u);
  std::smatch m;
  std::string joined;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(std::regex_match(lines[i], m, kRecord));
    EXPECT_EQ(m[2], i < 2 ? "P" : "F");
    EXPECT_LE(m[3].length(), static_cast<long>(CriLogWriter::kMaxLineBytes));
    joined += m[3];
  }
  EXPECT_EQ(joined, longLine);
  ASSERT_TRUE(std::regex_match(lines[3], m, kRecord));
  EXPECT_EQ(m[3], "short");
  EXPECT_EQ(m[2], "F");
}

TEST_F(CriLogTest, ExactlyMaxBytesLineIsOneRecord) {
  auto w = CriLogWriter::open(path_, 1 << 20, 3);
  ASSERT_TRUE(w.ok());
  (*w)->append(LogStream::kStdout, std::string(CriLogWriter::kMaxLineBytes, 'y') + "\n");
  auto lines = records(path_);
  ASSERT_EQ(lines.size(), 1u);
  std::smatch m;
  ASSERT_TRUE(std::regex_match(lines[0], m, kRecord));
  EXPECT_EQ(m[2], "F");
}

TEST_F(CriLogTest, FlushWritesUnterminatedTextAsPartial) {
  auto w = CriLogWriter::open(path_, 1 << 20, 3);
  ASSERT_TRUE(w.ok());
  (*w)->append(LogStream::kStderr, "no newline");
  EXPECT_TRUE(records(path_).empty());
  (*w)->flushAll();
  auto lines = records(path_);
  ASSERT_EQ(lines.size(), 1u);
  std::smatch m;
  ASSERT_TRUE(std::regex_match(lines[0], m, kRecord));
  EXPECT_EQ(m[1], "stderr");
  EXPECT_EQ(m[2], "P");
  EXPECT_EQ(m[3], "no newline");
}

TEST_F(CriLogTest, RotatesBySizeAndKeepsMaxFiles) {
  const int64_t maxBytes = 4096;
  auto w = CriLogWriter::open(path_, maxBytes, 3);
  ASSERT_TRUE(w.ok());
  for (int i = 0; i < 2000; ++i) (*w)->append(LogStream::kStdout, "line " + std::to_string(i) + "\n");
  EXPECT_TRUE(std::filesystem::exists(path_));
  EXPECT_TRUE(std::filesystem::exists(path_ + ".1"));
  EXPECT_TRUE(std::filesystem::exists(path_ + ".2"));
  EXPECT_FALSE(std::filesystem::exists(path_ + ".3"));
  for (const char* suffix : {"", ".1", ".2"})
    EXPECT_LE(std::filesystem::file_size(path_ + suffix), static_cast<uintmax_t>(maxBytes));
  // The newest line is last in container.log, and .1 ends just before what container.log starts with.
  auto current = records(path_);
  ASSERT_FALSE(current.empty());
  EXPECT_NE(current.back().find(" F line 1999"), std::string::npos);
  auto previous = records(path_ + ".1");
  ASSERT_FALSE(previous.empty());
  std::smatch a, b;
  ASSERT_TRUE(std::regex_match(previous.back(), a, kRecord));
  ASSERT_TRUE(std::regex_match(current.front(), b, kRecord));
  EXPECT_EQ(std::stoi(a[3].str().substr(5)) + 1, std::stoi(b[3].str().substr(5)));
}

TEST_F(CriLogTest, AppendsToAnExistingFile) {
  {
    auto w = CriLogWriter::open(path_, 1 << 20, 2);
    ASSERT_TRUE(w.ok());
    (*w)->append(LogStream::kStdout, "one\n");
  }
  auto w = CriLogWriter::open(path_, 1 << 20, 2);
  ASSERT_TRUE(w.ok());
  (*w)->append(LogStream::kStdout, "two\n");
  EXPECT_EQ(records(path_).size(), 2u);
}

TEST_F(CriLogTest, OpenFailsWithoutDirectory) {
  auto w = CriLogWriter::open(dir_ + "/missing/container.log", 1024, 2);
  ASSERT_FALSE(w.ok());
  EXPECT_TRUE(w.error().is(ErrorCode::kNotFound));
}

}  // namespace
}  // namespace nave::runtime
