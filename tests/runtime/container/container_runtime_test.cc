// ContainerRuntime against the real kernel: shims, the Linux launcher, cgroups, namespaces.
// Needs root. The root filesystem is a busybox directory built here from Debian's
// busybox-static; this test binary doubles as the shim (`TEST_BINARY shim ...`).
#include "runtime/container/container_runtime.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "runtime/container/state_file.h"

namespace nave::runtime {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// When started as `... shim ARGS`, this binary is the shim.
struct ShimEntry {
  ShimEntry() {
    std::ifstream in("/proc/self/cmdline", std::ios::binary);
    std::vector<std::string> args;
    std::string arg;
    while (std::getline(in, arg, '\0')) args.push_back(arg);
    if (args.size() >= 2 && args[1] == "shim")
      ::_exit(shimMain(std::vector<std::string>(args.begin() + 2, args.end())));
  }
} shimEntry;

std::string runCommand(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  ::pclose(p);
  return out;
}

// A busybox root filesystem: /bin/busybox with every applet linked to it, /etc/passwd with
// root and nobody.
bool makeBusyboxRootfs(const std::string& dir) {
  std::error_code ec;
  for (const char* d : {"bin", "etc", "proc", "sys", "dev", "tmp", "root"})
    fs::create_directories(dir + "/" + d, ec);
  fs::copy_file("/bin/busybox", dir + "/bin/busybox", fs::copy_options::overwrite_existing, ec);
  if (ec) return false;
  std::istringstream applets(runCommand("/bin/busybox --list"));
  std::string name;
  while (std::getline(applets, name)) {
    if (name.empty() || name == "busybox") continue;
    fs::create_symlink("busybox", dir + "/bin/" + name, ec);
  }
  std::ofstream(dir + "/etc/passwd") << "root:x:0:0:root:/root:/bin/sh\n"
                                        "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";
  std::ofstream(dir + "/etc/group") << "root:x:0:\nnogroup:x:65534:\n";
  ::chmod((dir + "/tmp").c_str(), 01777);
  return fs::exists(dir + "/bin/sh");
}

struct LogRecord {
  std::string stream, tag, text;
};

std::vector<LogRecord> readLog(const std::string& path) {
  static const std::regex kRecord(
      R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z (stdout|stderr) ([PF]) ([\s\S]*)$)");
  std::vector<LogRecord> out;
  std::ifstream in(path);
  std::string line;
  std::smatch m;
  while (std::getline(in, line)) {
    if (std::regex_match(line, m, kRecord)) out.push_back({m[1], m[2], m[3]});
    else out.push_back({"malformed", "", line});
  }
  return out;
}

std::string readAll(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

// Live (not zombie) processes whose command line contains all of `needles`.
std::vector<pid_t> processesMatching(const std::vector<std::string>& needles) {
  std::vector<pid_t> out;
  for (const auto& e : fs::directory_iterator("/proc")) {
    std::string name = e.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    pid_t pid = std::stoi(name);
    if (pid == ::getpid()) continue;
    std::ifstream in(e.path() / "cmdline", std::ios::binary);
    std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    bool all = !cmdline.empty();
    for (const std::string& n : needles) all = all && cmdline.find(n) != std::string::npos;
    if (all && processStartTime(pid).has_value()) out.push_back(pid);
  }
  return out;
}

class ContainerRuntimeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (::geteuid() != 0) return;
    char tmpl[] = "/tmp/nave-rootfs-XXXXXX";
    if (!::mkdtemp(tmpl)) return;
    rootfs_ = new std::string(tmpl);
    if (!makeBusyboxRootfs(*rootfs_)) rootfsError_ = "cannot build a busybox rootfs from /bin/busybox";
  }
  static void TearDownTestSuite() {
    if (rootfs_) fs::remove_all(*rootfs_);
    delete rootfs_;
    rootfs_ = nullptr;
  }

  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (namespaces, cgroups, mounts)";
    ASSERT_TRUE(rootfs_ != nullptr);
    ASSERT_TRUE(rootfsError_.empty()) << rootfsError_;
    char tmpl[] = "/tmp/nave-containers-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    auto rt = ContainerRuntime::open(root_, "/proc/self/exe");
    ASSERT_TRUE(rt.ok()) << rt.error().message();
    rt_ = std::move(*rt);
  }

  void TearDown() override {
    if (!rt_) return;
    for (const ContainerStatus& c : rt_->list()) {
      (void)rt_->stop(c.id, 0s);
      (void)rt_->remove(c.id);
    }
    for (const SandboxStatus& s : rt_->listSandboxes()) (void)rt_->removeSandbox(s.id);
    rt_.reset();
    fs::remove_all(root_);
  }

  ContainerSpec spec(const std::string& id, std::vector<std::string> args) {
    ContainerSpec s;
    s.id = id;
    s.rootfs = *rootfs_;
    s.process.args = std::move(args);
    return s;
  }

  // create + start + wait.
  ContainerStatus run(const ContainerSpec& s, std::chrono::milliseconds timeout = 30s) {
    auto created = rt_->create(s);
    EXPECT_TRUE(created.ok()) << created.error().message();
    if (!created.ok()) return {};
    EXPECT_EQ(created->state, ContainerState::kCreated);
    auto started = rt_->start(s.id);
    EXPECT_TRUE(started.ok()) << started.error().message();
    auto done = rt_->wait(s.id, timeout);
    EXPECT_TRUE(done.ok()) << done.error().message();
    return done.ok() ? *done : ContainerStatus{};
  }

  std::string logText(const std::string& id, const std::string& stream = "stdout") {
    std::string out;
    for (const LogRecord& r : readLog(root_ + "/" + id + "/container.log")) {
      if (r.stream != stream) continue;
      out += r.text;
      if (r.tag == "F") out += "\n";
    }
    return out;
  }

  static std::string* rootfs_;
  static std::string rootfsError_;
  std::string root_;
  std::unique_ptr<ContainerRuntime> rt_;
};

std::string* ContainerRuntimeTest::rootfs_ = nullptr;
std::string ContainerRuntimeTest::rootfsError_;

TEST_F(ContainerRuntimeTest, EchoWritesCriLog) {
  ContainerStatus st = run(spec("echo", {"sh", "-c", "echo hi; echo oops >&2; printf tail"}));
  EXPECT_EQ(st.state, ContainerState::kExited);
  EXPECT_EQ(st.exitCode, 0);
  EXPECT_EQ(st.reason, "Completed");
  EXPECT_EQ(st.logPath, root_ + "/echo/container.log");
  EXPECT_GE(st.finishedAt, st.startedAt);
  EXPECT_GE(st.startedAt, st.createdAt);
  auto records = readLog(st.logPath);
  ASSERT_EQ(records.size(), 3u) << logText("echo");
  bool sawHi = false, sawOops = false, sawTail = false;
  for (const LogRecord& r : records) {
    if (r.stream == "stdout" && r.tag == "F" && r.text == "hi") sawHi = true;
    if (r.stream == "stderr" && r.tag == "F" && r.text == "oops") sawOops = true;
    // Flushed at exit without its newline: a partial record.
    if (r.stream == "stdout" && r.tag == "P" && r.text == "tail") sawTail = true;
  }
  EXPECT_TRUE(sawHi && sawOops && sawTail);
}

TEST_F(ContainerRuntimeTest, ExitCodes) {
  ContainerStatus st = run(spec("exit3", {"sh", "-c", "exit 3"}));
  EXPECT_EQ(st.state, ContainerState::kExited);
  EXPECT_EQ(st.exitCode, 3);
  EXPECT_EQ(st.reason, "Error");
  EXPECT_FALSE(st.oomKilled);
  // Killed by a signal: 128 + the signal.
  ASSERT_TRUE(rt_->create(spec("killed", {"sleep", "100"})).ok());
  ASSERT_TRUE(rt_->start("killed").ok());
  ASSERT_TRUE(rt_->kill("killed", SIGKILL).ok());
  auto killed = rt_->wait("killed", 10s);
  ASSERT_TRUE(killed.ok());
  EXPECT_EQ(killed->exitCode, 137);
  EXPECT_EQ(killed->reason, "Error");
  EXPECT_FALSE(killed->oomKilled);
}

TEST_F(ContainerRuntimeTest, CreateReportsSetupErrors) {
  auto created = rt_->create(spec("nope", {"no-such-command"}));
  ASSERT_FALSE(created.ok());
  EXPECT_NE(created.error().message().find("no-such-command"), std::string::npos)
      << created.error().message();
  EXPECT_FALSE(fs::exists(root_ + "/nope"));
  EXPECT_TRUE(rt_->status("nope").error().is(ErrorCode::kNotFound));
  // Invalid ids and duplicate ids.
  EXPECT_TRUE(rt_->create(spec("../x", {"true"})).error().is(ErrorCode::kInvalid));
  ASSERT_TRUE(rt_->create(spec("dup", {"true"})).ok());
  EXPECT_TRUE(rt_->create(spec("dup", {"true"})).error().is(ErrorCode::kAlreadyExists));
}

TEST_F(ContainerRuntimeTest, WaitTimesOutAndCreatedContainersCanBeRemoved) {
  ASSERT_TRUE(rt_->create(spec("held", {"true"})).ok());
  auto st = rt_->status("held");
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->state, ContainerState::kCreated);
  auto waited = rt_->wait("held", 50ms);
  ASSERT_FALSE(waited.ok());
  EXPECT_TRUE(waited.error().is(ErrorCode::kTimeout));
  ASSERT_TRUE(rt_->remove("held").ok());
  EXPECT_FALSE(fs::exists(root_ + "/held"));
  EXPECT_TRUE(processesMatching({"shim", "--id", "held"}).empty());
}

// A process that ignores SIGTERM is killed once the grace period is over.
TEST_F(ContainerRuntimeTest, StopKillsAfterGracePeriod) {
  ASSERT_TRUE(rt_->create(spec("stubborn", {"sh", "-c", "trap '' TERM; sleep 100"})).ok());
  ASSERT_TRUE(rt_->start("stubborn").ok());
  auto t0 = std::chrono::steady_clock::now();
  auto st = rt_->stop("stubborn", 1s);
  auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_TRUE(st.ok()) << st.error().message();
  EXPECT_EQ(st->state, ContainerState::kExited);
  EXPECT_EQ(st->exitCode, 137);
  EXPECT_GE(took, 1s);
  EXPECT_LT(took, 10s);
}

// One that handles SIGTERM ends at once, long before the grace period.
TEST_F(ContainerRuntimeTest, StopEndsPromptlyOnSigterm) {
  ASSERT_TRUE(rt_->create(spec("polite", {"sh", "-c", "trap 'exit 0' TERM; sleep 100 & wait"})).ok());
  ASSERT_TRUE(rt_->start("polite").ok());
  std::this_thread::sleep_for(200ms);  // let the shell install its trap
  auto t0 = std::chrono::steady_clock::now();
  auto st = rt_->stop("polite", 30s);
  auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_TRUE(st.ok()) << st.error().message();
  EXPECT_EQ(st->exitCode, 0);
  EXPECT_LT(took, 5s);
  // Stopping an exited container is a no-op that reports its status.
  auto again = rt_->stop("polite", 1s);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->exitCode, 0);
}

TEST_F(ContainerRuntimeTest, ExitNotifierBecomesReadableWhenTheContainerExits) {
  ASSERT_TRUE(rt_->create(spec("notified", {"sleep", "100"})).ok());
  ASSERT_TRUE(rt_->start("notified").ok());
  auto fd = rt_->exitNotifier("notified");
  ASSERT_TRUE(fd.ok()) << fd.error().message();
  pollfd p{fd->get(), POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 100), 0) << "readable while the container runs";
  ASSERT_TRUE(rt_->kill("notified", SIGKILL).ok());
  EXPECT_EQ(::poll(&p, 1, 10000), 1);
  auto st = rt_->status("notified");
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->state, ContainerState::kExited);
  // Exited already: readable at once.
  auto again = rt_->exitNotifier("notified");
  ASSERT_TRUE(again.ok());
  pollfd q{again->get(), POLLIN, 0};
  EXPECT_EQ(::poll(&q, 1, 0), 1);
  EXPECT_TRUE(rt_->exitNotifier("missing").error().is(ErrorCode::kNotFound));
}

TEST_F(ContainerRuntimeTest, AttachForwardsStdinAndOutputAndReportsTheExit) {
  auto sp = spec("attached", {"sh", "-c", "read line; echo got:$line; echo err >&2; exit 7"});
  sp.process.stdin = true;
  ASSERT_TRUE(rt_->create(sp).ok());
  ASSERT_TRUE(rt_->start("attached").ok());
  int in[2], out[2], err[2];
  ASSERT_EQ(::pipe(in), 0);
  ASSERT_EQ(::pipe(out), 0);
  ASSERT_EQ(::pipe(err), 0);
  UniqueFd inRead(in[0]), inWrite(in[1]), outRead(out[0]), outWrite(out[1]), errRead(err[0]),
      errWrite(err[1]);
  ExecIo io;
  io.stdinFd = inRead.get();
  io.stdoutFd = outWrite.get();
  io.stderrFd = errWrite.get();
  auto session = rt_->attach("attached", io);
  ASSERT_TRUE(session.ok()) << session.error().message();
  ASSERT_EQ(::write(inWrite.get(), "hello\n", 6), 6);
  auto code = (*session)->wait();
  ASSERT_TRUE(code.ok()) << code.error().message();
  EXPECT_EQ(*code, 7);
  session->reset();
  outWrite.reset();
  errWrite.reset();
  char buf[256] = {};
  ssize_t n = ::read(outRead.get(), buf, sizeof buf - 1);
  EXPECT_EQ(std::string(buf, n > 0 ? static_cast<size_t>(n) : 0), "got:hello\n");
  n = ::read(errRead.get(), buf, sizeof buf - 1);
  EXPECT_EQ(std::string(buf, n > 0 ? static_cast<size_t>(n) : 0), "err\n");
  // The log has it all the same.
  auto st = rt_->status("attached");
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->exitCode, 7);
  EXPECT_TRUE(rt_->attach("attached", io).error().is(ErrorCode::kConflict)) << "exited";
}

TEST_F(ContainerRuntimeTest, KillDeliversSignals) {
  ASSERT_TRUE(rt_->create(spec("killme", {"sh", "-c", "trap 'exit 42' USR1; sleep 100 & wait"})).ok());
  ASSERT_TRUE(rt_->start("killme").ok());
  std::this_thread::sleep_for(200ms);
  ASSERT_TRUE(rt_->kill("killme", SIGUSR1).ok());
  auto st = rt_->wait("killme", 10s);
  ASSERT_TRUE(st.ok()) << st.error().message();
  EXPECT_EQ(st->exitCode, 42);
  EXPECT_TRUE(rt_->start("killme").error().is(ErrorCode::kConflict));
}

TEST_F(ContainerRuntimeTest, OomKilled) {
  ContainerSpec s = spec("oom", {"dd", "if=/dev/zero", "of=/dev/null", "bs=128M", "count=1"});
  s.resources.memoryLimitBytes = 32 << 20;
  ContainerStatus st = run(s);
  EXPECT_EQ(st.state, ContainerState::kExited);
  EXPECT_EQ(st.exitCode, 137);
  EXPECT_TRUE(st.oomKilled);
  EXPECT_EQ(st.reason, "OOMKilled");
}

TEST_F(ContainerRuntimeTest, ExecCapturesOutputAndExitCode) {
  ASSERT_TRUE(rt_->create(spec("host", {"sleep", "100"})).ok());
  ASSERT_TRUE(rt_->start("host").ok());
  int out[2];
  ASSERT_EQ(::pipe2(out, O_CLOEXEC), 0);
  ProcessSpec p;
  p.args = {"sh", "-c", "echo exec-out; echo exec-err >&2; exit 7"};
  auto proc = rt_->exec("host", p, ExecIo{-1, out[1], out[1]});
  ::close(out[1]);
  ASSERT_TRUE(proc.ok()) << proc.error().message();
  EXPECT_EQ((*proc)->terminal(), -1);
  std::string text = readAll(out[0]);
  ::close(out[0]);
  auto code = (*proc)->wait();
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 7);
  EXPECT_NE(text.find("exec-out\n"), std::string::npos) << text;
  EXPECT_NE(text.find("exec-err\n"), std::string::npos) << text;

  // The exec sees the container's processes: its init is pid 1.
  int out2[2];
  ASSERT_EQ(::pipe2(out2, O_CLOEXEC), 0);
  p.args = {"cat", "/proc/1/cmdline"};
  auto cat = rt_->exec("host", p, ExecIo{-1, out2[1], -1});
  ::close(out2[1]);
  ASSERT_TRUE(cat.ok()) << cat.error().message();
  std::string cmdline = readAll(out2[0]);
  ::close(out2[0]);
  EXPECT_EQ(*(*cat)->wait(), 0);
  EXPECT_EQ(cmdline, std::string("sleep") + '\0' + "100" + '\0');

  auto st = rt_->stop("host", 0s);
  ASSERT_TRUE(st.ok());
  EXPECT_TRUE(rt_->exec("host", p, ExecIo{}).error().is(ErrorCode::kConflict));
}

TEST_F(ContainerRuntimeTest, ExecWithTerminal) {
  ASSERT_TRUE(rt_->create(spec("ttyhost", {"sleep", "100"})).ok());
  ASSERT_TRUE(rt_->start("ttyhost").ok());
  ProcessSpec p;
  p.tty = true;
  p.args = {"sh", "-c", "read x; tty; stty size; echo got-$x"};
  auto proc = rt_->exec("ttyhost", p, ExecIo{});
  ASSERT_TRUE(proc.ok()) << proc.error().message();
  int term = (*proc)->terminal();
  ASSERT_GE(term, 0);
  ASSERT_TRUE((*proc)->resize(30, 100).ok());
  ASSERT_EQ(::write(term, "go\n", 3), 3);
  std::string text;
  for (;;) {
    pollfd pfd{term, POLLIN, 0};
    if (::poll(&pfd, 1, 5000) <= 0) break;
    char buf[1024];
    ssize_t n = ::read(term, buf, sizeof buf);
    if (n <= 0) break;  // EIO once the process has exited
    text.append(buf, static_cast<size_t>(n));
  }
  auto code = (*proc)->wait();
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 0);
  EXPECT_NE(text.find("/dev/pts/"), std::string::npos) << text;
  EXPECT_NE(text.find("30 100"), std::string::npos) << text;
  EXPECT_NE(text.find("got-go"), std::string::npos) << text;
}

TEST_F(ContainerRuntimeTest, TtyContainerLogsToStdout) {
  ContainerSpec s = spec("ttyc", {"sh", "-c", "test -t 0 && test -t 1 && echo is-a-tty; echo on-tty >&2"});
  s.process.tty = true;
  ContainerStatus st = run(s);
  EXPECT_EQ(st.exitCode, 0);
  std::string text = logText("ttyc");
  EXPECT_NE(text.find("is-a-tty"), std::string::npos) << text;
  EXPECT_NE(text.find("on-tty"), std::string::npos) << text;
  EXPECT_EQ(logText("ttyc", "stderr"), "");
}

TEST_F(ContainerRuntimeTest, LogsRotateAndStayBounded) {
  ContainerSpec s = spec("chatty", {"sh", "-c",
                                    "i=0; while [ $i -lt 20000 ]; do echo line-$i; i=$((i+1)); done"});
  s.logMaxBytes = 64 * 1024;
  s.logMaxFiles = 3;
  ContainerStatus st = run(s, 120s);
  EXPECT_EQ(st.exitCode, 0);
  std::string log = root_ + "/chatty/container.log";
  EXPECT_TRUE(fs::exists(log));
  EXPECT_TRUE(fs::exists(log + ".1"));
  EXPECT_TRUE(fs::exists(log + ".2"));
  EXPECT_FALSE(fs::exists(log + ".3"));
  uintmax_t total = 0;
  for (const char* suffix : {"", ".1", ".2"}) {
    uintmax_t size = fs::file_size(log + suffix);
    EXPECT_LE(size, static_cast<uintmax_t>(s.logMaxBytes));
    total += size;
  }
  EXPECT_LE(total, 3u * 64 * 1024);
  auto records = readLog(log);
  ASSERT_FALSE(records.empty());
  EXPECT_EQ(records.back().text, "line-19999");
  // Nothing lost inside the kept window: consecutive numbers across .2, .1 and the current file.
  std::vector<LogRecord> all;
  for (const char* suffix : {".2", ".1", ""}) {
    auto part = readLog(log + suffix);
    all.insert(all.end(), part.begin(), part.end());
  }
  int first = std::stoi(all.front().text.substr(5));
  for (size_t i = 0; i < all.size(); ++i) ASSERT_EQ(all[i].text, "line-" + std::to_string(first + static_cast<int>(i)));
  ASSERT_TRUE(rt_->remove("chatty").ok());
}

// The creator exits; the container keeps running under its shim and is found again.
TEST_F(ContainerRuntimeTest, SurvivesRestartOfItsCreator) {
  ContainerSpec s = spec("survivor", {"sh", "-c", "i=0; while true; do echo tick-$i; i=$((i+1)); sleep 0.05; done"});
  pid_t child = ::fork();
  if (child == 0) {
    auto rt = ContainerRuntime::open(root_, "/proc/self/exe");
    bool ok = rt.ok() && (*rt)->create(s).ok() && (*rt)->start("survivor").ok();
    ::_exit(ok ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);

  auto rt = ContainerRuntime::open(root_, "/proc/self/exe");
  ASSERT_TRUE(rt.ok());
  auto st = (*rt)->status("survivor");
  ASSERT_TRUE(st.ok()) << st.error().message();
  EXPECT_EQ(st->state, ContainerState::kRunning);
  EXPECT_GT(st->pid, 0);
  auto listed = (*rt)->list();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].id, "survivor");
  // Still logging.
  size_t before = readLog(st->logPath).size();
  std::this_thread::sleep_for(300ms);
  EXPECT_GT(readLog(st->logPath).size(), before);
  auto stopped = (*rt)->stop("survivor", 1s);
  ASSERT_TRUE(stopped.ok()) << stopped.error().message();
  EXPECT_EQ(stopped->state, ContainerState::kExited);
  EXPECT_EQ(stopped->exitCode, 137);  // sh as pid 1 without a TERM handler ignores SIGTERM
  ASSERT_TRUE((*rt)->remove("survivor").ok());
}

// A shim killed outright leaves a container nobody supervises: it is ended and reported.
TEST_F(ContainerRuntimeTest, DeadShimIsDetected) {
  ASSERT_TRUE(rt_->create(spec("orphan", {"sleep", "100"})).ok());
  ASSERT_TRUE(rt_->start("orphan").ok());
  auto state = readShimState(root_ + "/orphan/state.json");
  ASSERT_TRUE(state.ok());
  pid_t containerPid = state->pid;
  ASSERT_EQ(::kill(state->shimPid, SIGKILL), 0);
  for (int i = 0; i < 200 && processIsAlive(state->shimPid, state->shimStartTime); ++i)
    std::this_thread::sleep_for(10ms);
  auto st = rt_->status("orphan");
  ASSERT_TRUE(st.ok()) << st.error().message();
  EXPECT_EQ(st->state, ContainerState::kExited);
  EXPECT_EQ(st->exitCode, 255);
  EXPECT_EQ(st->reason, "Unknown");
  for (int i = 0; i < 200 && processIsAlive(containerPid, state->pidStartTime); ++i)
    std::this_thread::sleep_for(10ms);
  EXPECT_FALSE(processIsAlive(containerPid, state->pidStartTime));
  ASSERT_TRUE(rt_->remove("orphan").ok());
}

TEST_F(ContainerRuntimeTest, SandboxSharesNetworkAndHostname) {
  SandboxSpec sb;
  sb.id = "pod1";
  sb.hostname = "pod-one";
  auto created = rt_->createSandbox(sb);
  ASSERT_TRUE(created.ok()) << created.error().message();
  EXPECT_EQ(created->netnsPath, root_ + "/sandboxes/pod1/net");
  EXPECT_TRUE(fs::exists(created->netnsPath));
  EXPECT_TRUE(rt_->createSandbox(sb).error().is(ErrorCode::kAlreadyExists));

  ContainerSpec server = spec("web", {"sh", "-c",
                                      "mkdir -p /tmp/www-pod1 && echo hello-from-web > /tmp/www-pod1/index.html && "
                                      "exec httpd -f -p 127.0.0.1:8080 -h /tmp/www-pod1"});
  server.sandboxId = "pod1";
  ASSERT_TRUE(rt_->create(server).ok());
  ASSERT_TRUE(rt_->start("web").ok());
  ContainerSpec client = spec("client", {"sh", "-c",
                                         "hostname; for i in $(seq 1 50); do "
                                         "timeout 2 wget -q -O - http://127.0.0.1:8080/ && exit 0; "
                                         "sleep 0.1; done; exit 1"});
  client.sandboxId = "pod1";
  ContainerStatus st = run(client);
  EXPECT_EQ(st.exitCode, 0) << logText("client") << logText("client", "stderr");
  std::string text = logText("client");
  EXPECT_NE(text.find("pod-one\n"), std::string::npos) << text;
  EXPECT_NE(text.find("hello-from-web"), std::string::npos) << text;

  // A container outside the sandbox has a network of its own.
  ContainerSpec outsider = spec("outsider", {"sh", "-c", "timeout 2 wget -q -O - http://127.0.0.1:8080/"});
  st = run(outsider);
  EXPECT_NE(st.exitCode, 0);

  EXPECT_TRUE(rt_->removeSandbox("pod1").error().is(ErrorCode::kConflict));
  ASSERT_TRUE(rt_->stop("web", 0s).ok());
  for (const char* id : {"web", "client"}) ASSERT_TRUE(rt_->remove(id).ok());
  ASSERT_EQ(rt_->listSandboxes().size(), 1u);
  ASSERT_TRUE(rt_->removeSandbox("pod1").ok());
  EXPECT_FALSE(fs::exists(root_ + "/sandboxes/pod1"));
  EXPECT_TRUE(rt_->listSandboxes().empty());
  EXPECT_TRUE(rt_->removeSandbox("pod1").ok());  // missing is fine
  std::string mounts = runCommand("cat /proc/self/mountinfo");
  EXPECT_EQ(mounts.find(root_), std::string::npos) << mounts;
}

TEST_F(ContainerRuntimeTest, NothingLeftBehind) {
  SandboxSpec sb;
  sb.id = "pod2";
  ASSERT_TRUE(rt_->createSandbox(sb).ok());
  ContainerSpec s = spec("tidy", {"sh", "-c", "sleep 100 & echo started; wait"});
  s.sandboxId = "pod2";
  s.resources.memoryLimitBytes = 64 << 20;
  s.resources.pidsLimit = 100;
  ASSERT_TRUE(rt_->create(s).ok());
  ASSERT_TRUE(rt_->start("tidy").ok());
  auto state = readShimState(root_ + "/tidy/state.json");
  ASSERT_TRUE(state.ok());
  EXPECT_FALSE(processesMatching({"shim", "tidy"}).empty());
  // The container's other process (the background sleep).
  std::vector<std::pair<pid_t, uint64_t>> descendants;
  for (int i = 0; i < 100 && descendants.empty(); ++i) {
    std::ifstream in("/proc/" + std::to_string(state->pid) + "/task/" + std::to_string(state->pid) + "/children");
    pid_t p;
    while (in >> p) descendants.emplace_back(p, processStartTime(p).value_or(0));
    if (descendants.empty()) std::this_thread::sleep_for(10ms);
  }
  EXPECT_FALSE(descendants.empty());
  EXPECT_TRUE(rt_->remove("tidy").error().is(ErrorCode::kConflict));
  ASSERT_TRUE(rt_->stop("tidy", 0s).ok());
  ASSERT_TRUE(rt_->remove("tidy").ok());
  ASSERT_TRUE(rt_->removeSandbox("pod2").ok());
  EXPECT_TRUE(rt_->status("tidy").error().is(ErrorCode::kNotFound));

  // No files: the root holds only the (empty) sandboxes directory, and the shared cache of
  // compiled seccomp programs.
  std::vector<std::string> left;
  for (const auto& e : fs::recursive_directory_iterator(root_)) {
    if (e.path().string().rfind(root_ + "/.seccomp", 0) != 0) left.push_back(e.path());
  }
  EXPECT_EQ(left, std::vector<std::string>{root_ + "/sandboxes"});
  // No mounts.
  std::string mounts = runCommand("cat /proc/self/mountinfo");
  EXPECT_EQ(mounts.find(root_), std::string::npos) << mounts;
  // No cgroups.
  for (const auto& h : fs::directory_iterator("/sys/fs/cgroup")) {
    std::error_code ec;
    EXPECT_FALSE(fs::exists(h.path() / "nave" / "tidy", ec)) << h.path();
  }
  // No processes: neither the shim nor the container's.
  EXPECT_FALSE(processIsAlive(state->shimPid, state->shimStartTime));
  EXPECT_FALSE(processIsAlive(state->pid, state->pidStartTime));
  EXPECT_TRUE(processesMatching({"shim", "tidy"}).empty());
  for (auto [pid, start] : descendants) EXPECT_FALSE(processIsAlive(pid, start)) << pid;
}

// hostNetwork: no namespace file, and the containers share the host's network namespace.
TEST_F(ContainerRuntimeTest, HostNetworkSandbox) {
  SandboxSpec sb;
  sb.id = "hostnet";
  sb.hostNetwork = true;
  auto created = rt_->createSandbox(sb);
  ASSERT_TRUE(created.ok()) << created.error().message();
  EXPECT_TRUE(created->hostNetwork);
  EXPECT_EQ(created->netnsPath, "");
  EXPECT_FALSE(fs::exists(root_ + "/sandboxes/hostnet/net"));
  ContainerSpec s = spec("onhost", {"sh", "-c", "readlink /proc/self/ns/net; readlink /proc/self/ns/uts"});
  s.sandboxId = "hostnet";
  ContainerStatus st = run(s);
  EXPECT_EQ(st.exitCode, 0);
  std::string text = logText("onhost");
  EXPECT_NE(text.find(fs::read_symlink("/proc/self/ns/net").string() + "\n"), std::string::npos) << text;
  // Its own UTS namespace (the sandbox's), not the host's.
  EXPECT_EQ(text.find(fs::read_symlink("/proc/self/ns/uts").string()), std::string::npos) << text;
  ASSERT_TRUE(rt_->remove("onhost").ok());
  ASSERT_TRUE(rt_->removeSandbox("hostnet").ok());
}

// Several callers at once: each container is created, run and removed on its own.
TEST_F(ContainerRuntimeTest, ConcurrentContainers) {
  constexpr int kThreads = 6;
  std::vector<std::thread> threads;
  std::vector<int> exitCodes(kThreads, -1);
  std::vector<std::string> errors(kThreads);
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      std::string id = "par-" + std::to_string(i);
      ContainerSpec s = spec(id, {"sh", "-c", "echo par-" + std::to_string(i) + "; exit " + std::to_string(i)});
      auto created = rt_->create(s);
      if (!created.ok()) return void(errors[i] = created.error().message());
      if (auto r = rt_->start(id); !r.ok()) return void(errors[i] = r.error().message());
      auto st = rt_->wait(id, 30s);
      if (!st.ok()) return void(errors[i] = st.error().message());
      exitCodes[i] = st->exitCode;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(rt_->list().size(), static_cast<size_t>(kThreads));
  for (int i = 0; i < kThreads; ++i) {
    EXPECT_EQ(errors[i], "") << i;
    EXPECT_EQ(exitCodes[i], i);
    EXPECT_EQ(logText("par-" + std::to_string(i)), "par-" + std::to_string(i) + "\n");
  }
  threads.clear();
  std::vector<bool> removed(kThreads);
  for (int i = 0; i < kThreads; ++i)
    threads.emplace_back([&, i] { removed[i] = rt_->remove("par-" + std::to_string(i)).ok(); });
  for (auto& t : threads) t.join();
  for (int i = 0; i < kThreads; ++i) EXPECT_TRUE(removed[i]) << i;
  EXPECT_TRUE(rt_->list().empty());
}

}  // namespace
}  // namespace nave::runtime
