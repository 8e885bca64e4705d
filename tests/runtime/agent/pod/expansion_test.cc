// $(VAR) expansion, with the cases of Kubernetes' expansion package.
#include "runtime/agent/pod/expansion.h"

#include <gtest/gtest.h>

#include "runtime/agent/pod/pod_spec.h"

namespace nave::agent {
namespace {

TEST(ExpansionTest, KubernetesCases) {
  std::map<std::string, std::string> vars = {
      {"VAR_A", "A"}, {"VAR_B", "B"}, {"VAR_C", "C"}, {"VAR_REF", "$(VAR_A)"}, {"VAR_EMPTY", ""}};
  ExpansionMapping mapping = mappingFor({&vars});
  struct Case {
    const char* input;
    const char* expected;
  } cases[] = {
      {"$(VAR_A)", "A"},
      {"$(VAR_A)-$(VAR_A)", "A-A"},
      {"$(VAR_A)-1", "A-1"},
      {"___$(VAR_B)___", "___B___"},
      {"___$(VAR_C)", "___C"},
      {"$(VAR_A)_$(VAR_B)_$(VAR_C)", "A_B_C"},
      {"$$(VAR_B)_$(VAR_A)", "$(VAR_B)_A"},
      {"$$(VAR_A)_$$(VAR_B)", "$(VAR_A)_$(VAR_B)"},
      {"f000-$$VAR_A", "f000-$VAR_A"},
      {"foo\\$(VAR_C)bar", "foo\\Cbar"},
      {"foo\\\\$(VAR_C)bar", "foo\\\\Cbar"},
      {"foo\\\\\\\\$(VAR_A)bar", "foo\\\\\\\\Abar"},
      {"$(VAR_A$(VAR_B))", "$(VAR_A$(VAR_B))"},
      {"$(VAR_A$(VAR_B)", "$(VAR_A$(VAR_B)"},
      {"$(VAR_REF)", "$(VAR_A)"},
      {"%%$(VAR_REF)--$(VAR_REF)%%", "%%$(VAR_A)--$(VAR_A)%%"},
      {"foo$(VAR_EMPTY)bar", "foobar"},
      {"foo$(VAR_Awhoops!", "foo$(VAR_Awhoops!"},
      {"f00__(VAR_A)__", "f00__(VAR_A)__"},
      {"$?_boo_$!", "$?_boo_$!"},
      {"$VAR_A", "$VAR_A"},
      {"$(VAR_DNE)", "$(VAR_DNE)"},
      {"$$$$$$(BIG_MONEY)", "$$$(BIG_MONEY)"},
      {"$$$$$$(VAR_A)", "$$$(VAR_A)"},
      {"$$$$$$$(GOOD_ODDS)", "$$$$(GOOD_ODDS)"},
      {"$$$$$$$(VAR_A)", "$$$A"},
      {"$VAR_A)", "$VAR_A)"},
      {"${VAR_A}", "${VAR_A}"},
      {"$(VAR_B)_______$(A", "B_______$(A"},
      {"$(VAR_C)_______$(", "C_______$("},
      {"$(VAR_A)foobarzab$", "Afoobarzab$"},
      {"foo-\\$(VAR_A", "foo-\\$(VAR_A"},
      {"--$($($($($--", "--$($($($($--"},
      {"$($($($($--foo$(", "$($($($($--foo$("},
      {"foo0--$($($($(", "foo0--$($($($("},
      {"$(foo$$var)", "$(foo$$var)"},
      {"\n", "\n"},
      {"", ""},
      {"$", "$"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(expandVariables(c.input, mapping), c.expected) << "input: " << c.input;
  }
}

TEST(ExpansionTest, FirstContextHoldingTheNameWins) {
  std::map<std::string, std::string> first = {{"A", "1"}};
  std::map<std::string, std::string> second = {{"A", "2"}, {"B", "3"}};
  ExpansionMapping mapping = mappingFor({&first, &second});
  EXPECT_EQ(expandVariables("$(A)$(B)$(C)", mapping), "13$(C)");
}

TEST(ExpansionTest, ExpandReferencesUsesTheEnvironment) {
  std::vector<std::string> env = {"GREETING=hello", "NAME=world", "EMPTY=", "BROKEN", "EQ=a=b"};
  EXPECT_EQ(
      expandReferences(
          {"echo", "$(GREETING) $(NAME)", "$$(NAME)", "$(MISSING)", "[$(EMPTY)]", "$(EQ)"}, env),
      (std::vector<std::string>{"echo", "hello world", "$(NAME)", "$(MISSING)", "[]", "a=b"}));
  EXPECT_TRUE(expandReferences({}, env).empty());
}

TEST(ExpansionTest, EnvToMapLastEntryWins) {
  auto m = envToMap({"A=1", "A=2", "B", "C="});
  EXPECT_EQ(m.size(), 2u);
  EXPECT_EQ(m["A"], "2");
  EXPECT_EQ(m["C"], "");
}

}  // namespace
}  // namespace nave::agent
