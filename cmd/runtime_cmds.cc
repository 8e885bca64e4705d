// The container runtime's debugging CLI: `nave images ...`, `nave run`, `nave ps`, `nave logs`,
// `nave exec`, `nave rm`, and the `nave shim` supervisor entry point. They work whether or not
// a server runs on the same data dir (the runtime locks what it shares).
#include <poll.h>
#include <signal.h>
#include <termios.h>
#include <unistd.h>

#include <sys/eventfd.h>
#include <sys/ioctl.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <thread>
#include <variant>


#include "cmd/commands.h"
#include "cmd/flags.h"
#include "common/fd.h"
#include "common/log.h"
#include "common/strings.h"
#include "common/time.h"
#include "runtime/log_reader.h"
#include "runtime/runtime.h"

namespace nave::cmd {
namespace {

using runtime::NodeRuntime;

struct CommonFlags {
  std::string dataDir = "/var/lib/nave";
  std::string registries = "/etc/nave/registries.yaml";
  int verbosity = 0;
};

void addCommon(cli::FlagSet& f, CommonFlags& c) {
  f.addString("data-dir", &c.dataDir, "Folder to hold state");
  f.addString("private-registry", &c.registries, "Private registry configuration file");
  f.addInt("v", &c.verbosity, "Number for the log level verbosity", "v");
}

// Parses flags; prints help or errors. Returns the positional arguments, or an exit code.
std::variant<std::vector<std::string>, int> parse(cli::FlagSet& f,
                                                  const std::vector<std::string>& args,
                                                  const char* summary, bool stopAtFirstPositional) {
  std::vector<std::string> flagArgs = args, rest;
  if (stopAtFirstPositional) {
    // Flags end at the first positional argument: the rest belongs to the container's command.
    flagArgs.clear();
    bool takesValue = false;
    for (size_t i = 0; i < args.size(); ++i) {
      const std::string& a = args[i];
      if (!takesValue && (a.empty() || a[0] != '-')) {
        rest.assign(args.begin() + static_cast<long>(i), args.end());
        break;
      }
      flagArgs.push_back(a);
      takesValue = false;
      if (a.size() > 1 && a[0] == '-' && a.find('=') == std::string::npos) {
        std::string name = a.substr(a[1] == '-' ? 2 : 1);
        static const char* kBool[] = {"rm", "i",   "t", "interactive", "tty",
                                      "a",  "all", "f", "force",       "follow"};
        takesValue = std::find(std::begin(kBool), std::end(kBool), name) == std::end(kBool);
      }
    }
  }
  for (const std::string& a : flagArgs)
    if (a == "--help" || a == "-h") {
      std::printf("%s\n\n%s", summary, f.help().c_str());
      return 0;
    }
  auto pos = f.parse(flagArgs);
  if (!pos.ok()) {
    std::fprintf(stderr, "nave: %s\n", pos.error().message().c_str());
    return kUsageError;
  }
  pos->insert(pos->end(), rest.begin(), rest.end());
  return std::move(*pos);
}

Result<std::unique_ptr<NodeRuntime>> openRuntime(const CommonFlags& c) {
  log::setVerbosity(c.verbosity);
  runtime::NodeRuntimeOptions o;
  o.dataDir = c.dataDir;
  o.registriesFile = c.registries;
  char self[4096];
  ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (n > 0) o.shimBinary = std::string(self, static_cast<size_t>(n));
  return NodeRuntime::open(o);
}

int fail(const Error& e) {
  std::fprintf(stderr, "nave: %s\n", e.message().c_str());
  return 1;
}

std::string shortId(const std::string& id) {
  return id.substr(0, 12);
}


std::string ago(std::chrono::system_clock::time_point t) {
  if (t.time_since_epoch().count() == 0) return "";
  auto d = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now() - t);
  return humanDuration(d) + " ago";
}

Result<int64_t> parseSize(const std::string& s) {
  if (s.empty()) return Error(ErrorCode::kBadRequest, "empty size");
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  std::string unit = toLower(end ? end : "");
  double mul = 1;
  if (unit == "" || unit == "b")
    mul = 1;
  else if (unit == "k" || unit == "kb" || unit == "ki")
    mul = 1024;
  else if (unit == "m" || unit == "mb" || unit == "mi")
    mul = 1024.0 * 1024;
  else if (unit == "g" || unit == "gb" || unit == "gi")
    mul = 1024.0 * 1024 * 1024;
  else
    return Error(ErrorCode::kBadRequest, "invalid size " + s);
  if (v <= 0) return Error(ErrorCode::kBadRequest, "invalid size " + s);
  return static_cast<int64_t>(v * mul);
}

// ---- images -------------------------------------------------------------------------------

int imagesCommand(const std::vector<std::string>& args) {
  const char* usage =
      "Manage images.\n\nUsage:\n  nave images import FILE...\n  nave images pull REF\n"
      "  nave images ls\n  nave images rm REF...\n  nave images inspect REF\n  nave images gc";
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::printf("%s\n", usage);
    return args.empty() ? kUsageError : 0;
  }
  std::string sub = args[0];
  CommonFlags c;
  cli::FlagSet f("images " + sub);
  addCommon(f, c);
  auto parsed = parse(f, std::vector<std::string>(args.begin() + 1, args.end()), usage, false);
  if (parsed.index() == 1) return std::get<1>(parsed);
  auto& pos = std::get<0>(parsed);
  auto rt = openRuntime(c);
  if (!rt.ok()) return fail(rt.error());
  runtime::ImageStore& images = (*rt)->images();
  auto progress = [](const runtime::Progress& p) {
    if (!isatty(STDERR_FILENO)) return;
    if (p.layer.empty()) {
      std::fprintf(stderr, "\r\033[K%s: %s", p.ref.c_str(), p.status.c_str());
    } else {
      std::fprintf(stderr, "\r\033[K%s: %s %s %lld/%lld", p.ref.c_str(), p.status.c_str(),
                   shortId(p.layer.substr(p.layer.find(':') + 1)).c_str(),
                   static_cast<long long>(p.done), static_cast<long long>(p.total));
    }
  };
  if (sub == "import") {
    if (pos.empty())
      return std::fprintf(stderr, "nave images import: no files given\n"), kUsageError;
    for (const std::string& file : pos) {
      auto r = images.importArchive(file, progress);
      if (isatty(STDERR_FILENO)) std::fprintf(stderr, "\r\033[K");
      if (!r.ok()) return fail(Error(r.error()).context("import " + file));
      for (const auto& img : *r)
        std::printf("imported %s %s\n",
                    img.repoTags.empty() ? img.id.c_str() : img.repoTags[0].c_str(),
                    img.id.c_str());
    }
    return 0;
  }
  if (sub == "pull") {
    if (pos.size() != 1)
      return std::fprintf(stderr, "nave images pull: one reference\n"), kUsageError;
    runtime::PullOptions po;
    po.progress = progress;
    auto r = images.pull(pos[0], po);
    if (isatty(STDERR_FILENO)) std::fprintf(stderr, "\r\033[K");
    if (!r.ok()) return fail(r.error());
    std::printf("%s %s\n", r->repoTags.empty() ? pos[0].c_str() : r->repoTags[0].c_str(),
                r->id.c_str());
    return 0;
  }
  if (sub == "ls" || sub == "list") {
    std::printf("%-50s %-20s %-15s %10s\n", "IMAGE", "TAG", "IMAGE ID", "SIZE");
    for (const auto& img : images.list()) {
      std::string id = shortId(img.id.substr(img.id.find(':') + 1));
      char size[32];
      std::snprintf(size, sizeof size, "%.1fMB", static_cast<double>(img.size) / 1e6);
      std::vector<std::string> tags = img.repoTags;
      if (tags.empty()) tags.push_back("<none>:<none>");
      for (const std::string& t : tags) {
        auto colon = t.rfind(':');
        bool hasTag = colon != std::string::npos && t.find('/', colon) == std::string::npos;
        std::printf("%-50s %-20s %-15s %10s\n", (hasTag ? t.substr(0, colon) : t).c_str(),
                    hasTag ? t.substr(colon + 1).c_str() : "<none>", id.c_str(), size);
      }
    }
    return 0;
  }
  if (sub == "rm") {
    if (pos.empty()) return std::fprintf(stderr, "nave images rm: no references\n"), kUsageError;
    int rc = 0;
    for (const std::string& ref : pos) {
      auto r = images.remove(ref);
      if (!r.ok())
        rc = fail(r.error());
      else
        std::printf("Untagged: %s\n", ref.c_str());
    }
    return rc;
  }
  if (sub == "inspect") {
    if (pos.size() != 1)
      return std::fprintf(stderr, "nave images inspect: one reference\n"), kUsageError;
    auto img = images.find(pos[0]);
    if (!img.ok()) return fail(img.error());
    Json layers = Json::array();
    for (const auto& l : img->layers)
      layers.push_back({{"digest", l.digest},
                        {"diffID", l.diffId},
                        {"mediaType", l.mediaType},
                        {"size", l.size}});
    Json out = {
        {"id", img->id},    {"repoTags", img->repoTags},         {"repoDigests", img->repoDigests},
        {"os", img->os},    {"architecture", img->architecture}, {"size", img->size},
        {"layers", layers}, {"config", img->rawConfig}};
    if (!img->variant.empty()) out["variant"] = img->variant;
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  if (sub == "gc") {
    auto r = (*rt)->garbageCollect();
    if (!r.ok()) return fail(r.error());
    std::printf("removed %lld blobs (%lld bytes) and %lld unpacked layers (%lld bytes)\n",
                static_cast<long long>(r->images.blobsRemoved),
                static_cast<long long>(r->images.bytesFreed),
                static_cast<long long>(r->snapshots.layersRemoved),
                static_cast<long long>(r->snapshots.bytesFreed));
    return 0;
  }
  std::fprintf(stderr, "nave images: unknown subcommand \"%s\"\n%s\n", sub.c_str(), usage);
  return kUsageError;
}

// ---- run / ps / logs / exec / rm ----------------------------------------------------------

std::atomic<int> gForwardSignal{0};
void onSignal(int sig) {
  gForwardSignal = sig;
}

int printLog(const std::string& path, bool follow, const std::function<bool()>& stop,
             int wakeFd = -1) {
  auto r = runtime::readContainerLog(
      path, true, follow,
      [](const runtime::LogLine& l) {
        FILE* out = l.stderrStream ? stderr : stdout;
        std::fwrite(l.text.data(), 1, l.text.size(), out);
        std::fputc('\n', out);
        std::fflush(out);
      },
      stop, wakeFd);
  if (!r.ok()) return fail(r.error());
  return 0;
}

int runCommand(const std::vector<std::string>& args) {
  CommonFlags c;
  cli::FlagSet f("run");
  addCommon(f, c);
  bool rm = false;
  std::vector<std::string> env;
  std::string user, memory, cpus, name;
  f.addBool("rm", &rm, "Remove the container when it exits");
  f.add(cli::Flag{"env", "e", cli::FlagKind::kStringList, "Set environment variables (K=V)", "",
                  [&env](const std::string& v) -> Result<void> {
                    env.push_back(v);
                    return {};
                  }});
  f.addString("user", &user, "Username or UID (format: <name|uid>[:<group|gid>])");
  f.addString("memory", &memory, "Memory limit (e.g. 64m, 1g)");
  f.addString("cpus", &cpus, "Number of CPUs (e.g. 0.5)");
  f.addString("name", &name, "The container's id (default: random)");
  auto parsed = parse(
      f, args,
      "Run a command in a new container.\n\nUsage:\n  nave run [flags] IMAGE [COMMAND [ARG...]]",
      true);
  if (parsed.index() == 1) return std::get<1>(parsed);
  auto& pos = std::get<0>(parsed);
  if (pos.empty()) {
    std::fprintf(stderr, "nave run: an image is required\n");
    return kUsageError;
  }
  runtime::ContainerRequest req;
  req.id = name.empty() ? randomHex(32) : name;
  req.image = pos[0];
  if (pos.size() > 1) req.args = std::vector<std::string>(pos.begin() + 1, pos.end());
  req.env = env;
  req.user = user;
  if (!memory.empty()) {
    auto m = parseSize(memory);
    if (!m.ok())
      return std::fprintf(stderr, "nave run: %s\n", m.error().message().c_str()), kUsageError;
    req.spec.resources.memoryLimitBytes = *m;
  }
  if (!cpus.empty()) {
    char* end = nullptr;
    double n = std::strtod(cpus.c_str(), &end);
    if (n <= 0 || (end && *end))
      return std::fprintf(stderr, "nave run: invalid --cpus %s\n", cpus.c_str()), kUsageError;
    req.spec.resources.cpuPeriodMicros = 100000;
    req.spec.resources.cpuQuotaMicros = static_cast<int64_t>(n * 100000);
  }
  req.spec.labels["nave.image"] = req.image;
  req.spec.labels["nave.command"] = join(req.args.value_or(std::vector<std::string>{}), " ");
  auto rt = openRuntime(c);
  if (!rt.ok()) return fail(rt.error());
  NodeRuntime& node = **rt;
  if (!node.images().find(req.image).ok()) {
    runtime::PullOptions po;
    auto pulled = node.images().pull(req.image, po);
    if (!pulled.ok()) return fail(pulled.error());
  }
  auto created = node.createContainer(req);
  if (!created.ok()) return fail(created.error());
  std::string id = created->id;
  if (auto s = node.containers().start(id); !s.ok()) {
    (void)node.removeContainer(id, true);
    return fail(s.error());
  }
  signal(SIGINT, onSignal);
  signal(SIGTERM, onSignal);
  std::atomic<bool> exited{false};
  UniqueFd exitedEvent(::eventfd(0, EFD_CLOEXEC));
  std::thread waiter([&] {
    for (;;) {
      auto w = node.containers().wait(id, std::chrono::milliseconds(200));
      if (w.ok() || !w.error().is(ErrorCode::kTimeout)) break;
      if (int sig = gForwardSignal.exchange(0)) (void)node.containers().kill(id, sig);
    }
    exited = true;
    uint64_t one = 1;
    if (exitedEvent.valid()) (void)!::write(exitedEvent.get(), &one, sizeof one);
  });
  printLog(created->logPath, true, [&] { return exited.load(); }, exitedEvent.get());
  waiter.join();
  auto st = node.containers().status(id);
  int code = st.ok() ? st->exitCode : 1;
  if (st.ok() && st->oomKilled)
    std::fprintf(stderr, "nave: container %s was OOM-killed\n", shortId(id).c_str());
  if (rm) {
    if (auto r = node.removeContainer(id, true); !r.ok()) fail(r.error());
  }
  return code;
}

int psCommand(const std::vector<std::string>& args) {
  CommonFlags c;
  cli::FlagSet f("ps");
  addCommon(f, c);
  bool all = false;
  f.add(cli::Flag{"all", "a", cli::FlagKind::kBool,
                  "Show all containers (default shows just running)", "",
                  [&all](const std::string& v) -> Result<void> {
                    all = v == "true";
                    return {};
                  }});
  bool quiet = false;
  f.add(cli::Flag{"quiet", "q", cli::FlagKind::kBool, "Only display container IDs (in full)", "",
                  [&quiet](const std::string& v) -> Result<void> {
                    quiet = v == "true";
                    return {};
                  }});
  auto parsed = parse(f, args, "List containers.\n\nUsage:\n  nave ps [-a] [-q]", false);
  if (parsed.index() == 1) return std::get<1>(parsed);
  auto rt = openRuntime(c);
  if (!rt.ok()) return fail(rt.error());
  if (quiet) {
    for (const auto& s : (*rt)->containers().list()) {
      if (all || s.state == runtime::ContainerState::kRunning) std::printf("%s\n", s.id.c_str());
    }
    return 0;
  }
  std::printf("%-14s %-30s %-22s %-16s %s\n", "CONTAINER ID", "IMAGE", "COMMAND", "CREATED",
              "STATUS");
  for (const auto& s : (*rt)->containers().list()) {
    bool running = s.state == runtime::ContainerState::kRunning;
    if (!all && !running) continue;
    std::string status;
    switch (s.state) {
      case runtime::ContainerState::kRunning:
        status = "Up " + ago(s.startedAt);
        break;
      case runtime::ContainerState::kCreated:
        status = "Created";
        break;
      case runtime::ContainerState::kExited:
        status = "Exited (" + std::to_string(s.exitCode) + ") " + ago(s.finishedAt);
        break;
      default:
        status = "Unknown";
    }
    auto label = [&](const char* k) {
      auto it = s.labels.find(k);
      return it == s.labels.end() ? std::string() : it->second;
    };
    std::string cmd = label("nave.command");
    if (cmd.size() > 20) cmd = cmd.substr(0, 19) + "…";
    std::printf("%-14s %-30s %-22s %-16s %s\n", shortId(s.id).c_str(), label("nave.image").c_str(),
                ("\"" + cmd + "\"").c_str(), ago(s.createdAt).c_str(), status.c_str());
  }
  return 0;
}

// Finds a container by id or unique id prefix.
Result<std::string> resolveId(NodeRuntime& node, const std::string& given) {
  std::string found;
  for (const auto& s : node.containers().list()) {
    if (s.id == given) return s.id;
    if (s.id.starts_with(given)) {
      if (!found.empty()) return Error(ErrorCode::kBadRequest, "ambiguous container id " + given);
      found = s.id;
    }
  }
  if (found.empty()) return Error(ErrorCode::kNotFound, "no such container: " + given);
  return found;
}

int logsCommand(const std::vector<std::string>& args) {
  CommonFlags c;
  cli::FlagSet f("logs");
  addCommon(f, c);
  bool follow = false;
  f.add(cli::Flag{"follow", "f", cli::FlagKind::kBool, "Follow log output", "",
                  [&follow](const std::string& v) -> Result<void> {
                    follow = v == "true";
                    return {};
                  }});
  auto parsed = parse(f, args, "Print a container's logs.\n\nUsage:\n  nave logs [-f] ID", false);
  if (parsed.index() == 1) return std::get<1>(parsed);
  auto& pos = std::get<0>(parsed);
  if (pos.size() != 1) return std::fprintf(stderr, "nave logs: one container id\n"), kUsageError;
  auto rt = openRuntime(c);
  if (!rt.ok()) return fail(rt.error());
  auto id = resolveId(**rt, pos[0]);
  if (!id.ok()) return fail(id.error());
  auto st = (*rt)->containers().status(*id);
  if (!st.ok()) return fail(st.error());
  runtime::ContainerRuntime& cr = (*rt)->containers();
  return printLog(st->logPath, follow, [&] {
    auto s = cr.status(*id);
    return !s.ok() || s->state == runtime::ContainerState::kExited || gForwardSignal != 0;
  });
}

int execCommand(const std::vector<std::string>& args) {
  CommonFlags c;
  cli::FlagSet f("exec");
  addCommon(f, c);
  bool interactive = false, tty = false;
  std::string user;
  f.add(cli::Flag{"interactive", "i", cli::FlagKind::kBool, "Keep STDIN open", "",
                  [&](const std::string& v) -> Result<void> {
                    interactive = v == "true";
                    return {};
                  }});
  f.add(cli::Flag{"tty", "t", cli::FlagKind::kBool, "Allocate a pseudo-TTY", "",
                  [&](const std::string& v) -> Result<void> {
                    tty = v == "true";
                    return {};
                  }});
  f.addString("user", &user, "Username or UID");
  // "-it" is two flags.
  std::vector<std::string> expanded;
  for (const std::string& a : args) {
    if (a == "-it" || a == "-ti") {
      expanded.push_back("-i");
      expanded.push_back("-t");
    } else {
      expanded.push_back(a);
    }
  }
  auto parsed = parse(
      f, expanded,
      "Run a command in a running container.\n\nUsage:\n  nave exec [-i] [-t] ID COMMAND [ARG...]",
      true);
  if (parsed.index() == 1) return std::get<1>(parsed);
  auto& pos = std::get<0>(parsed);
  if (pos.size() < 2)
    return std::fprintf(stderr, "nave exec: a container id and a command\n"), kUsageError;
  auto rt = openRuntime(c);
  if (!rt.ok()) return fail(rt.error());
  auto id = resolveId(**rt, pos[0]);
  if (!id.ok()) return fail(id.error());
  runtime::ProcessSpec p;
  p.args.assign(pos.begin() + 1, pos.end());
  p.tty = tty;
  p.stdin = interactive;
  p.user = user;
  runtime::ExecIo io;
  io.stdinFd = interactive ? STDIN_FILENO : -1;
  io.stdoutFd = STDOUT_FILENO;
  io.stderrFd = STDERR_FILENO;
  auto proc = (*rt)->containers().exec(*id, p, io);
  if (!proc.ok()) return fail(proc.error());
  if (tty) {
    int master = (*proc)->terminal();
    termios saved{};
    bool raw = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0;
    if (raw) {
      termios t = saved;
      cfmakeraw(&t);
      tcsetattr(STDIN_FILENO, TCSANOW, &t);
      winsize ws{};
      if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0) (void)(*proc)->resize(ws.ws_row, ws.ws_col);
    }
    char buf[8192];
    for (;;) {
      pollfd fds[2] = {{master, POLLIN, 0}, {interactive ? STDIN_FILENO : -1, POLLIN, 0}};
      if (::poll(fds, 2, -1) < 0 && errno != EINTR) break;
      if (fds[0].revents & (POLLIN | POLLHUP)) {
        ssize_t n = ::read(master, buf, sizeof buf);
        if (n <= 0) break;
        if (::write(STDOUT_FILENO, buf, static_cast<size_t>(n)) < 0) break;
      }
      if (fds[1].revents & POLLIN) {
        ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
        if (n <= 0) {
          fds[1].fd = -1;
          interactive = false;
        } else if (::write(master, buf, static_cast<size_t>(n)) < 0) {
          break;
        }
      }
    }
    if (raw) tcsetattr(STDIN_FILENO, TCSANOW, &saved);
  }
  auto code = (*proc)->wait();
  if (!code.ok()) return fail(code.error());
  return *code;
}

int rmCommand(const std::vector<std::string>& args) {
  CommonFlags c;
  cli::FlagSet f("rm");
  addCommon(f, c);
  bool force = false;
  f.add(cli::Flag{"force", "f", cli::FlagKind::kBool, "Kill running containers first", "",
                  [&force](const std::string& v) -> Result<void> {
                    force = v == "true";
                    return {};
                  }});
  auto parsed = parse(f, args, "Remove containers.\n\nUsage:\n  nave rm [-f] ID...", false);
  if (parsed.index() == 1) return std::get<1>(parsed);
  auto& pos = std::get<0>(parsed);
  if (pos.empty()) return std::fprintf(stderr, "nave rm: no container ids\n"), kUsageError;
  auto rt = openRuntime(c);
  if (!rt.ok()) return fail(rt.error());
  int rc = 0;
  for (const std::string& given : pos) {
    auto id = resolveId(**rt, given);
    if (!id.ok()) {
      rc = fail(id.error());
      continue;
    }
    auto r = (*rt)->removeContainer(*id, force);
    if (!r.ok())
      rc = fail(r.error());
    else
      std::printf("%s\n", given.c_str());
  }
  return rc;
}

}  // namespace

int imagesCmd(const std::vector<std::string>& args) {
  return imagesCommand(args);
}
int runCmd(const std::vector<std::string>& args) {
  return runCommand(args);
}
int psCmd(const std::vector<std::string>& args) {
  return psCommand(args);
}
int logsCmd(const std::vector<std::string>& args) {
  return logsCommand(args);
}
int execCmd(const std::vector<std::string>& args) {
  return execCommand(args);
}
int rmCmd(const std::vector<std::string>& args) {
  return rmCommand(args);
}
int shimCmd(const std::vector<std::string>& args) {
  return runtime::shimMain(args);
}

}  // namespace nave::cmd
