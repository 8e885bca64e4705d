#include "server/schema/schema.h"

#include <cstdlib>
#include <set>

#include "common/log.h"
#include "common/strings.h"
#include "server/schema/embedded.h"

namespace nave::schema {

const Node* Node::property(std::string_view name) const {
  for (const Property& p : properties)
    if (p.name == name) return p.schema.get();
  return nullptr;
}

bool Node::isRequired(std::string_view name) const {
  for (const std::string& r : required)
    if (r == name) return true;
  return false;
}

namespace {

constexpr std::string_view kMetaPackage = "io.k8s.apimachinery.pkg.apis.meta.v1";

struct Token {
  std::string text;
  bool quoted = false;
};

// Splits a line into whitespace-separated tokens; a double-quoted token (with escaped quotes
// and backslashes) is the description and must be last.
Result<std::vector<Token>> tokenize(std::string_view line) {
  std::vector<Token> out;
  size_t i = 0;
  while (i < line.size()) {
    if (line[i] == ' ' || line[i] == '\t') {
      ++i;
      continue;
    }
    if (line[i] == '"') {
      Token t{"", true};
      ++i;
      bool closed = false;
      while (i < line.size()) {
        char c = line[i++];
        if (c == '\\' && i < line.size()) {
          char e = line[i++];
          t.text += e == 'n' ? '\n' : e;
        } else if (c == '"') {
          closed = true;
          break;
        } else {
          t.text += c;
        }
      }
      if (!closed) return Error(ErrorCode::kInvalid, "unterminated description");
      out.push_back(std::move(t));
      continue;
    }
    size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    out.push_back(Token{std::string(line.substr(start, i - start)), false});
  }
  for (size_t k = 0; k + 1 < out.size(); ++k)
    if (out[k].quoted) return Error(ErrorCode::kInvalid, "description must come last");
  return out;
}

class Parser {
 public:
  Parser(SchemaSet& set, std::string_view origin) : set_(set), origin_(origin) {}

  Result<void> parse(std::string_view text) {
    size_t lineNo = 0;
    for (const std::string& raw : split(text, '\n')) {
      ++lineNo;
      std::string_view line = raw;
      if (auto hash = line.find('#'); hash != std::string_view::npos && !insideQuotes(line, hash))
        line = line.substr(0, hash);
      if (trim(line).empty()) continue;
      bool indented = line[0] == ' ' || line[0] == '\t';
      Result<void> r = {};
      if (indented) r = checkIndent(line);
      if (r.ok()) r = indented ? fieldLine(trim(line)) : declaration(trim(line));
      if (!r.ok()) {
        return Error(ErrorCode::kInternal, std::string(origin_) + ":" + std::to_string(lineNo) +
                                               ": " + r.error().message());
      }
    }
    return finish();
  }

 private:
  // Field lines are indented by one fixed prefix, set by the first field line of the file
  // (deeper or mixed indentation is a mistake, never nesting).
  Result<void> checkIndent(std::string_view line) {
    size_t n = line.find_first_not_of(" \t");
    std::string_view prefix = line.substr(0, n);
    if (indent_.empty()) {
      if (prefix.find('\t') != std::string_view::npos && prefix.find(' ') != std::string_view::npos)
        return Error(ErrorCode::kInvalid, "bad indentation: tabs and spaces mixed");
      indent_ = std::string(prefix);
      return {};
    }
    if (prefix != indent_) {
      return Error(ErrorCode::kInvalid, "bad indentation: field lines are indented by " +
                                            std::to_string(indent_.size()) +
                                            (indent_[0] == '\t' ? " tab(s)" : " space(s)"));
    }
    return {};
  }

  static bool insideQuotes(std::string_view line, size_t pos) {
    bool in = false;
    for (size_t i = 0; i < pos; ++i) {
      if (line[i] == '\\' && in) {
        ++i;
        continue;
      }
      if (line[i] == '"') in = !in;
    }
    return in;
  }

  Result<void> declaration(std::string_view line) {
    TRY(finish());
    auto toks = TRY(tokenize(line));
    const std::string& word = toks[0].text;
    if (word == "package") {
      if (toks.size() != 2) return Error(ErrorCode::kInvalid, "usage: package NAME");
      package_ = toks[1].text;
      return {};
    }
    if (word == "use") {
      if (toks.size() != 4 || toks[2].text != "=")
        return Error(ErrorCode::kInvalid, "usage: use ALIAS = PACKAGE");
      aliases_[toks[1].text] = toks[3].text;
      return {};
    }
    if (package_.empty()) return Error(ErrorCode::kInvalid, "declaration before package");
    if (word == "type") return typeDecl(toks);
    if (word == "kind") return kindDecl(toks);
    return Error(ErrorCode::kInvalid, "unknown declaration '" + word + "'");
  }

  Result<void> typeDecl(std::vector<Token>& toks) {
    if (toks.size() < 2) return Error(ErrorCode::kInvalid, "usage: type NAME ...");
    std::string name = package_ + "." + toks[1].text;
    size_t next = 2;
    auto node = std::make_shared<Node>();
    if (next < toks.size() && toks[next].text == "=" && !toks[next].quoted) {
      if (next + 1 >= toks.size()) return Error(ErrorCode::kInvalid, "type NAME = TYPE");
      auto t = TRY(typeNode(toks[next + 1].text));
      node = std::const_pointer_cast<Node>(t);
      next += 2;
      TRY(attributes(toks, next, *node, false));
      TRY(define(name, node));
      return {};
    }
    TRY(checkUndefined(name));
    node->type = Type::kObject;
    TRY(attributes(toks, next, *node, false));
    current_ = node;
    currentName_ = name;
    return {};
  }

  Result<void> checkUndefined(const std::string& name) const {
    if (set_.find(name) != nullptr) return Error(ErrorCode::kInvalid, name + " declared twice");
    return {};
  }

  Result<void> define(const std::string& name, NodePtr node) {
    TRY(checkUndefined(name));
    set_.add(name, std::move(node));
    return {};
  }

  // kind NAME GV[,GV...] [nolist] [nometa|bare] [attrs] ["desc"]
  Result<void> kindDecl(std::vector<Token>& toks) {
    if (toks.size() < 3 || toks[2].quoted)
      return Error(ErrorCode::kInvalid, "usage: kind NAME GROUP/VERSION");
    const std::string& kind = toks[1].text;
    std::vector<GroupVersionKind> gvks;
    for (const std::string& gv : split(toks[2].text, ',')) {
      if (gv.empty() || gv.back() == '/')
        return Error(ErrorCode::kInvalid, "bad group/version '" + gv + "'");
      GroupVersionKind gvk;
      if (auto slash = gv.find('/'); slash == std::string::npos) {
        gvk.version = gv;
      } else {
        gvk.group = gv.substr(0, slash);
        gvk.version = gv.substr(slash + 1);
      }
      gvk.kind = kind;
      gvks.push_back(std::move(gvk));
    }
    size_t next = 3;
    bool list = true, metadata = true, typeMeta = true;
    for (; next < toks.size() && !toks[next].quoted; ++next) {
      const std::string& flag = toks[next].text;
      if (flag == "nolist") {
        list = false;
      } else if (flag == "nometa") {
        metadata = false;
      } else if (flag == "bare") {
        metadata = typeMeta = false;
      } else {
        break;
      }
    }
    std::string name = package_ + "." + kind;
    TRY(checkUndefined(name));
    auto node = std::make_shared<Node>();
    node->type = Type::kObject;
    TRY(attributes(toks, next, *node, false));
    node->gvks = gvks;
    std::string meta(kMetaPackage);
    if (typeMeta) {
      node->properties.push_back({"apiVersion", scalarWithDoc(Type::kString, kApiVersionDoc)});
      node->properties.push_back({"kind", scalarWithDoc(Type::kString, kKindDoc)});
      automatic_ = {"apiVersion", "kind"};
    }
    if (metadata) {
      node->properties.push_back(
          {"metadata", refWithDoc(meta + ".ObjectMeta", "Standard object's metadata.", 1)});
      automatic_.insert("metadata");
    }
    current_ = node;
    currentName_ = name;
    if (list) {
      auto l = std::make_shared<Node>();
      l->type = Type::kObject;
      l->description = kind + "List is a list of " + kind + " objects.";
      for (const GroupVersionKind& g : gvks)
        l->gvks.push_back({g.group, g.version, kind + "List"});
      l->properties.push_back({"apiVersion", scalarWithDoc(Type::kString, kApiVersionDoc)});
      auto items = std::make_shared<Node>();
      items->type = Type::kArray;
      items->description = "The list of " + kind + " objects.";
      auto elem = std::make_shared<Node>();
      elem->ref = currentName_;
      items->items = elem;
      items->protoTag = 2;
      l->properties.push_back({"items", items});
      l->properties.push_back({"kind", scalarWithDoc(Type::kString, kKindDoc)});
      l->properties.push_back(
          {"metadata", refWithDoc(meta + ".ListMeta", "Standard list metadata.", 1)});
      l->required.push_back("items");
      TRY(define(name + "List", l));
    }
    return {};
  }

  Result<void> fieldLine(std::string_view line) {
    if (!current_) return Error(ErrorCode::kInvalid, "field outside a type or kind");
    auto toks = TRY(tokenize(line));
    if (toks.size() < 2 || toks[0].quoted || toks[1].quoted)
      return Error(ErrorCode::kInvalid, "usage: NAME[!] TYPE [attrs] [\"description\"]");
    std::string name = toks[0].text;
    bool required = false;
    if (name.back() == '!') {
      required = true;
      name.pop_back();
    }
    if (name.empty()) return Error(ErrorCode::kInvalid, "empty field name");
    auto t = TRY(typeNode(toks[1].text));
    auto node = std::make_shared<Node>(*t);
    size_t next = 2;
    TRY(attributes(toks, next, *node, true));
    if (required) current_->required.push_back(name);
    // A kind may redeclare the fields it was given automatically (Status has ListMeta metadata).
    if (automatic_.erase(name) != 0) {
      for (Property& p : current_->properties)
        if (p.name == name) p.schema = node;
      return {};
    }
    if (current_->property(name) != nullptr)
      return Error(ErrorCode::kInvalid, "field '" + name + "' declared twice");
    current_->properties.push_back({name, node});
    return {};
  }

  // Attributes and the optional trailing description, applied to `node`; `field` when the
  // line declares a field (the protobuf attributes describe fields only).
  Result<void> attributes(std::vector<Token>& toks, size_t next, Node& node, bool field) {
    for (; next < toks.size(); ++next) {
      Token& t = toks[next];
      if (t.quoted) {
        node.description = std::move(t.text);
        continue;
      }
      std::string key = t.text, value;
      if (auto eq = key.find('='); eq != std::string::npos) {
        value = key.substr(eq + 1);
        key = key.substr(0, eq);
      }
      // Attributes about collections apply to the array/map itself.
      if (key == "merge") node.patchMergeKey = value;
      else if (key == "strategy") node.patchStrategy = value;
      else if (key == "list") node.listType = value;
      else if (key == "keys") node.listMapKeys = split(value, ',');
      else if (key == "map") node.mapType = value;
      else if (key == "format") node.format = value;
      else if (key == "nullable") node.nullable = true;
      else if (key == "embedded") node.embeddedResource = true;
      else if (key == "preserve") node.preserveUnknownFields = true;
      else if (key == "proto" || key == "ptr") {
        if (!field) return Error(ErrorCode::kInvalid, "'" + key + "' applies to fields only");
        if (key == "proto") {
          TRY(protoNumbers(value, node));
        } else {
          TRY(pointerScalar(t.text, node));
        }
      } else if (key == "enum") {
        // Enumerated values constrain a collection's elements, not the collection.
        Node* target = &node;
        while (target->type == Type::kArray || target->type == Type::kMap) {
          NodePtr& inner =
              target->type == Type::kArray ? target->items : target->additionalProperties;
          auto copy = std::make_shared<Node>(*inner);
          inner = copy;
          target = copy.get();
        }
        for (const std::string& e : split(value, '|')) target->enumValues.emplace_back(e);
      } else if (key == "default") {
        auto j = parseJson(value);
        if (!j.ok()) return Error(ErrorCode::kInvalid, "bad default " + value);
        node.defaultValue = std::move(j->value);
      } else {
        return Error(ErrorCode::kInvalid, "unknown attribute '" + t.text + "'");
      }
    }
    if (!node.listMapKeys.empty() && node.listType.empty()) node.listType = "map";
    return {};
  }

  // proto=N or proto=E.N (E: the numbers of embedded structs the field is inlined from).
  static Result<void> protoNumbers(const std::string& value, Node& node) {
    // Protobuf field numbers are 1 to 2^29-1.
    constexpr int64_t kMaxFieldNumber = (int64_t{1} << 29) - 1;
    std::vector<int> numbers;
    for (const std::string& part : split(value, '.')) {
      int64_t n = 0;
      bool ok = !part.empty() && part.size() <= 9;
      for (char c : part) {
        if (c < '0' || c > '9') {
          ok = false;
          break;
        }
        n = n * 10 + (c - '0');
      }
      if (!ok || n < 1 || n > kMaxFieldNumber)
        return Error(ErrorCode::kInvalid, "bad protobuf field number in 'proto=" + value + "'");
      numbers.push_back(static_cast<int>(n));
    }
    node.protoTag = numbers.back();
    numbers.pop_back();
    node.protoInline = std::move(numbers);
    return {};
  }

  // `ptr` marks a Go pointer scalar; collections and inline objects are never one.
  static Result<void> pointerScalar(const std::string& text, Node& node) {
    if (text != "ptr") return Error(ErrorCode::kInvalid, "'ptr' takes no value");
    bool collection = node.type == Type::kArray || node.type == Type::kMap ||
                      (node.type == Type::kObject && node.ref.empty());
    if (collection) return Error(ErrorCode::kInvalid, "'ptr' applies to scalar fields only");
    node.pointer = true;
    return {};
  }

  Result<NodePtr> typeNode(std::string_view t) {
    auto node = std::make_shared<Node>();
    if (t.starts_with("[]")) {
      node->type = Type::kArray;
      node->items = TRY(typeNode(t.substr(2)));
      return NodePtr(node);
    }
    if (t.starts_with("map[") && t.ends_with("]")) {
      node->type = Type::kMap;
      node->additionalProperties = TRY(typeNode(t.substr(4, t.size() - 5)));
      return NodePtr(node);
    }
    if (t == "string") node->type = Type::kString;
    else if (t == "int32") node->type = Type::kInteger, node->format = "int32";
    else if (t == "int64") node->type = Type::kInteger, node->format = "int64";
    else if (t == "bool") node->type = Type::kBoolean;
    else if (t == "double") node->type = Type::kNumber, node->format = "double";
    else if (t == "time") node->type = Type::kString, node->format = "date-time";
    else if (t == "microtime") node->type = Type::kString, node->format = "date-time";
    else if (t == "bytes") node->type = Type::kString, node->format = "byte";
    else if (t == "quantity") node->type = Type::kIntOrString, node->format = "quantity";
    else if (t == "intstr") node->type = Type::kIntOrString, node->format = "int-or-string";
    else if (t == "any") node->type = Type::kAny, node->preserveUnknownFields = true;
    else if (t == "object") node->type = Type::kObject, node->preserveUnknownFields = true;
    else if (!t.empty()) node->ref = qualify(t);
    else return Error(ErrorCode::kInvalid, "empty type");
    return NodePtr(node);
  }

  std::string qualify(std::string_view name) const {
    auto dot = name.find('.');
    if (dot == std::string_view::npos) return package_ + "." + std::string(name);
    auto alias = aliases_.find(std::string(name.substr(0, dot)));
    if (alias != aliases_.end()) return alias->second + std::string(name.substr(dot));
    return std::string(name);
  }

  Result<void> finish() {
    automatic_.clear();
    if (current_) {
      set_.add(std::move(currentName_), std::move(current_));
      current_.reset();
    }
    return {};
  }

  static NodePtr scalarWithDoc(Type t, std::string_view doc) {
    auto n = std::make_shared<Node>();
    n->type = t;
    n->description = doc;
    return n;
  }
  static NodePtr refWithDoc(std::string ref, std::string_view doc, int protoTag) {
    auto n = std::make_shared<Node>();
    n->ref = std::move(ref);
    n->description = doc;
    n->protoTag = protoTag;
    return n;
  }

  static constexpr std::string_view kApiVersionDoc =
      "The versioned schema of this representation of an object, GROUP/VERSION (or VERSION for "
      "the core group). Servers convert recognised schemas to the latest internal value.";
  static constexpr std::string_view kKindDoc =
      "The REST resource type this object represents, in CamelCase. Servers infer it from the "
      "endpoint the client submits requests to; it cannot be updated.";

  SchemaSet& set_;
  std::string_view origin_;
  std::string package_;
  std::map<std::string, std::string> aliases_;
  std::shared_ptr<Node> current_;
  std::string currentName_;
  std::set<std::string> automatic_;  // fields of current_ added by `kind`, not yet redeclared
  std::string indent_;               // the file's field indentation, once seen
};

void collectRefs(const Node* n, std::set<std::string>& out) {
  if (n == nullptr) return;
  if (!n->ref.empty()) out.insert(n->ref);
  for (const Property& p : n->properties) collectRefs(p.schema.get(), out);
  collectRefs(n->items.get(), out);
  collectRefs(n->additionalProperties.get(), out);
  for (const auto& s : n->allOf) collectRefs(s.get(), out);
  for (const auto& s : n->anyOf) collectRefs(s.get(), out);
  for (const auto& s : n->oneOf) collectRefs(s.get(), out);
  collectRefs(n->notSchema.get(), out);
}

}  // namespace

Result<void> SchemaSet::addSource(std::string_view text, std::string_view origin) {
  Parser parser(*this, origin);
  return parser.parse(text);
}

void SchemaSet::add(std::string name, NodePtr node) { defs_[std::move(name)] = std::move(node); }

Result<void> SchemaSet::validate() const {
  std::set<std::string> refs;
  for (const auto& [name, node] : defs_) collectRefs(node.get(), refs);
  std::vector<std::string> missing;
  for (const std::string& r : refs)
    if (!defs_.contains(r)) missing.push_back(r);
  if (!missing.empty())
    return Error(ErrorCode::kInternal, "undefined schema types: " + join(missing, ", "));
  return {};
}

const Node* SchemaSet::find(std::string_view name) const {
  auto it = defs_.find(name);
  return it == defs_.end() ? nullptr : it->second.get();
}

const Node* SchemaSet::resolve(const Node* node) const {
  for (int hops = 0; node != nullptr && !node->ref.empty() && hops < 16; ++hops) {
    const Node* target = find(node->ref);
    if (target == nullptr) return node;
    node = target;
  }
  return node;
}

const Node* SchemaSet::findKind(const GroupVersionKind& gvk) const {
  std::string name = kindName(gvk);
  return name.empty() ? nullptr : find(name);
}

std::string SchemaSet::kindName(const GroupVersionKind& gvk) const {
  for (const auto& [name, node] : defs_)
    for (const GroupVersionKind& g : node->gvks)
      if (g == gvk) return name;
  return {};
}

const SchemaSet& builtinSchemas() {
  static const SchemaSet* set = [] {
    auto* s = new SchemaSet();
    for (const EmbeddedSource& src : embeddedSchemaSources()) {
      if (auto r = s->addSource(src.text, src.name); !r.ok()) {
        log::error("built-in schema is malformed", {{"error", r.error().message()}});
        std::abort();
      }
    }
    if (auto r = s->validate(); !r.ok()) {
      log::error("built-in schema is incomplete", {{"error", r.error().message()}});
      std::abort();
    }
    return s;
  }();
  return *set;
}

const Node* resolveNode(const SchemaSet* set, const Node* node) {
  return set != nullptr ? set->resolve(node) : node;
}

const Node* childProperty(const SchemaSet* set, const Node* objectNode, std::string_view name) {
  const Node* n = resolveNode(set, objectNode);
  if (n == nullptr || n->type != Type::kObject) return nullptr;
  return n->property(name);
}

const Node* elementSchema(const SchemaSet* set, const Node* arrayNode) {
  const Node* n = resolveNode(set, arrayNode);
  return n != nullptr && n->type == Type::kArray ? n->items.get() : nullptr;
}

const Node* mapValueSchema(const SchemaSet* set, const Node* mapNode) {
  const Node* n = resolveNode(set, mapNode);
  return n != nullptr && n->type == Type::kMap ? n->additionalProperties.get() : nullptr;
}

}  // namespace nave::schema
